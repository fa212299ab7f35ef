package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// The webhook API, for admins only: an endpoint registered answers 201
// with its secret, which no later answer (nor any page, nor the log)
// shows again; bad addresses and events are 422 naming the field, a body
// that is not the documented JSON is 400; a customer gets 403.
func TestWebhookAPI(t *testing.T) {
	f := newAPIFix(t)
	r := f.call(f.admin, "POST", "/api/webhooks", `{"url":"https://hooks.example.com/in","events":["channel.created","customer.created"]}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	var made apiWebhook
	if err := json.Unmarshal([]byte(r.body), &made); err != nil {
		t.Fatal(err)
	}
	if made.ID == 0 || made.URL != "https://hooks.example.com/in" || strings.Join(made.Events, ",") != "channel.created,customer.created" ||
		!strings.HasPrefix(made.Secret, "whsec_") || len(made.Secret) != 49 {
		t.Fatalf("created %+v", made)
	}

	list := f.call(f.admin, "GET", "/api/webhooks", "")
	if list.StatusCode != http.StatusOK || !strings.Contains(list.body, `"url":"https://hooks.example.com/in"`) || strings.Contains(list.body, made.Secret) ||
		strings.Contains(list.body, "secret") {
		t.Fatalf("list: %d %s", list.StatusCode, list.body)
	}
	admin := f.a.client()
	admin.login("admin@example.com")
	for _, path := range []string{"/admin/webhooks", "/admin/webhooks/" + strconv.FormatInt(made.ID, 10)} {
		if p := admin.get(path); p.StatusCode != http.StatusOK || strings.Contains(p.body, made.Secret) ||
			!strings.Contains(p.body, "https://hooks.example.com/in") {
			t.Errorf("%s (%d) shows the secret or not the endpoint", path, p.StatusCode)
		}
	}
	if strings.Contains(f.a.logs.String(), made.Secret) {
		t.Error("the secret is in the log")
	}

	bad := []struct {
		body   string
		status int
		field  string
	}{
		{`{"url":"http://127.0.0.1:8000/x","events":["channel.created"]}`, 422, "url"},
		{`{"url":"https://10.0.0.7/x","events":["channel.created"]}`, 422, "url"},
		{`{"url":"ftp://hooks.example.com/x","events":["channel.created"]}`, 422, "url"},
		{`{"url":"https://hooks.example.com/x","events":[]}`, 422, "events"},
		{`{"url":"https://hooks.example.com/x","events":["channel.exploded"]}`, 422, "events"},
		{`{"url":"https://hooks.example.com/x","events":["webhook.test"]}`, 422, "events"},
		{`{"url":"https://hooks.example.com/x","events":"channel.created"}`, 400, ""},
		{`{"url":"https://hooks.example.com/x","evnts":["channel.created"]}`, 400, ""},
	}
	for _, b := range bad {
		r := f.call(f.admin, "POST", "/api/webhooks", b.body)
		var e struct {
			Error struct {
				Code   string            `json:"code"`
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(r.body), &e)
		if r.StatusCode != b.status || e.Error.Code == "" || (b.field != "" && e.Error.Fields[b.field] == "") {
			t.Errorf("%s: %d %s, want %d naming %q", b.body, r.StatusCode, r.body, b.status, b.field)
		}
	}
	if eps, _ := f.a.store.WebhookEndpoints(context.Background()); len(eps) != 1 {
		t.Fatalf("%d endpoints after the refusals, want 1", len(eps))
	}

	if r := f.call(f.alice, "POST", "/api/webhooks", `{"url":"https://evil.example.com/x","events":["customer.created"]}`); r.StatusCode != http.StatusForbidden {
		t.Errorf("a customer's create: %d", r.StatusCode)
	}
	if r := f.call(f.alice, "GET", "/api/webhooks", ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("a customer's list: %d", r.StatusCode)
	}
	id := strconv.FormatInt(made.ID, 10)
	if r := f.call(f.alice, "DELETE", "/api/webhooks/"+id, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("a customer's delete: %d", r.StatusCode)
	}
	if r := f.call(f.admin, "DELETE", "/api/webhooks/"+id, ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.StatusCode, r.body)
	}
	if r := f.call(f.admin, "DELETE", "/api/webhooks/"+id, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %d %s", r.StatusCode, r.body)
	}
	if r := f.call(f.admin, "GET", "/api/webhooks", ""); !strings.Contains(r.body, `"items":[]`) {
		t.Errorf("list after delete: %s", r.body)
	}
}

// The admin's form: a bad address and no event are said next to their
// fields (422), with what was typed kept; a good one shows the endpoint's
// page with the secret once; rotate and delete ask first.
func TestWebhookAdminPages(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	admin := a.client()
	admin.login("admin@example.com")

	r := admin.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {"https://192.168.1.5/hook"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="webhook-url-error"`) ||
		!strings.Contains(r.body, `data-testid="error-events"`) || !strings.Contains(r.body, `value="https://192.168.1.5/hook"`) {
		t.Fatalf("refused form: %d %s", r.StatusCode, r.body)
	}
	r = admin.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {"https://hooks.example.com/in"}, "events": {"channel.deleted", "customer.created"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `data-testid="webhook-secret"`) {
		t.Fatalf("created: %d %s", r.StatusCode, r.body)
	}
	eps, err := a.store.WebhookEndpoints(context.Background())
	if err != nil || len(eps) != 1 || strings.Join(eps[0].Events, ",") != "channel.deleted,customer.created" {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	secret, _, err := a.store.WebhookSecrets(&eps[0])
	if err != nil || !strings.Contains(r.body, string(secret)) {
		t.Fatalf("the page does not show the secret it made (%v)", err)
	}
	page := "/admin/webhooks/" + strconv.FormatInt(eps[0].ID, 10)
	if p := admin.get(page); strings.Contains(p.body, string(secret)) || strings.Contains(p.body, "webhook-secret") {
		t.Error("the endpoint's page shows the secret again")
	}
	if p := admin.get(page + "/rotate"); p.StatusCode != http.StatusOK || !strings.Contains(p.body, "Rotate the secret") {
		t.Errorf("rotate asks: %d", p.StatusCode)
	}
	r = admin.submit(page+"/rotate", page+"/rotate", nil)
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, string(secret)) || !strings.Contains(r.body, `data-testid="webhook-secret"`) {
		t.Fatalf("rotated: %d", r.StatusCode)
	}
	ep, _ := a.store.WebhookEndpointByID(context.Background(), eps[0].ID)
	next, prev, _ := a.store.WebhookSecrets(ep)
	if string(next) == string(secret) || len(prev) != 1 || !strings.Contains(r.body, string(next)) {
		t.Error("the rotation did not show the new secret, or dropped the old one at once")
	}
	r = admin.submit(page+"/test", page+"/test", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("test event: %d", r.StatusCode)
	}
	ds, _ := a.store.WebhookDeliveries(context.Background(), ep.ID, 10)
	if len(ds) != 1 || ds[0].EventType != "webhook.test" {
		t.Fatalf("deliveries after the test event: %+v", ds)
	}
	if p := admin.get(page); !strings.Contains(p.body, ds[0].EventID) {
		t.Error("the endpoint's page does not list the test delivery")
	}
	r = admin.submit(page+"/delete", page+"/delete", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if eps, _ := a.store.WebhookEndpoints(context.Background()); len(eps) != 0 {
		t.Errorf("after delete: %+v", eps)
	}
	if p := admin.get(page); p.StatusCode != http.StatusNotFound {
		t.Errorf("deleted endpoint's page: %d", p.StatusCode)
	}
	for _, s := range []string{string(secret), string(next)} {
		if strings.Contains(a.logs.String(), s) {
			t.Error("a secret is in the log")
		}
	}
}

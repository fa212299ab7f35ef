package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/webhookout"
	"whapidesk/jobs"
	"whapidesk/models"
)

// In the demo, the sample endpoint points at the demo's own receiver: a
// customer created reaches it through the job queue, signed, and the
// receiver's page (admins only) shows it verified; a request signed with
// another secret shows "Not verified" and is answered 401. Outside the
// demo neither route exists.
func TestDemoWebhookReceiver(t *testing.T) {
	dw := &DemoWebhooks{Verify: func(secret []byte, header string, body []byte, now time.Time) error {
		return webhookout.Verify(secret, header, body, now, 0)
	}}
	a := newTestApp(t, func(o *appOptions) { o.handler.DemoWebhooks = dw })
	a.newUser(models.RoleAdmin, "admin@example.com")
	a.svc.SetWebhookAllowPrivate(true)
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	t.Cleanup(d.Close)
	q, err := jobs.Open(t.Context(), a.env.DB, jobs.Config{Work: &flakyWork{}, Sessions: a.store, Log: a.env.Log, NoPeriodic: true,
		ReconcileAfterBoot: -1, FetchPoll: 20 * time.Millisecond, Webhooks: a.store, Deliverer: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	a.svc.SetWebhookQueue(q)
	_, secret, err := a.svc.CreateWebhookEndpoint(t.Context(), models.SystemActor, a.srv.URL+DemoWebhookPath, webhookout.EventTypes())
	if err != nil {
		t.Fatal(err)
	}
	dw.SetSecret(secret)

	if _, err := a.svc.CreateUser(t.Context(), models.SystemActor, models.NewUser{Email: "amal@example.com", Password: "long enough pw", Role: models.RoleCustomer}); err != nil {
		t.Fatal(err)
	}
	admin := a.client()
	admin.login("admin@example.com")
	deadline := time.Now().Add(30 * time.Second)
	var page result
	for {
		page = admin.get("/admin/demo/webhooks")
		if strings.Contains(page.body, "amal@example.com") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "customer.created") || !strings.Contains(page.body, ">Verified<") {
		t.Fatalf("the demo receiver's page (%d) does not show the verified event:\n%s", page.StatusCode, page.body)
	}

	body := `{"id":"evt_forged","type":"webhook.test","created_at":"2026-12-07T14:03:12Z","data":{}}`
	req, _ := http.NewRequest("POST", a.srv.URL+DemoWebhookPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhookout.SignatureHeader, webhookout.Sign([]byte("whsec_someone-else"), time.Now(), []byte(body)))
	if r := a.client().do(req); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged delivery: %d", r.StatusCode)
	}
	if p := admin.get("/admin/demo/webhooks"); !strings.Contains(p.body, "evt_forged") || !strings.Contains(p.body, ">Not verified<") {
		t.Errorf("the forged delivery is not shown as not verified")
	}
	if p := a.client().get("/admin/demo/webhooks"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("the receiver's page without signing in: %d", p.StatusCode)
	}

	plain := newTestApp(t)
	// No receiver: the request meets the pages' CSRF check (403) or no
	// route (404), never a receiver's 204 or 401.
	if r := plain.client().jsonReq("POST", DemoWebhookPath, body); r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusNotFound {
		t.Errorf("outside the demo the receiver answers %d", r.StatusCode)
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// The API's refusal of a create past the customer's share of WHAPI's
// create budget: 429 create_budget with Retry-After and retry_after, in
// words that never name WHAPI (an admin is told which limit); another
// customer can still create.
func TestAPICreateBudget(t *testing.T) {
	f := newAPIFix(t, func(o *appOptions) { o.manualClock = true })
	plan := f.createPlan("Basic", 1, 30, 30)
	f.subscribe(f.alice.id, plan)
	f.subscribe(f.bob.id, plan)
	start := f.a.clock.Now()
	for i := range 3 { // the share: 1 + 2
		ch := f.createChannel(f.alice, fmt.Sprintf("churn %d", i))
		apiWant(t, f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", ch.ID), ""), http.StatusOK, "")
		f.a.clock.Advance(time.Minute)
	}
	r := f.call(f.alice, "POST", "/api/channels", `{"name":"one more"}`)
	e := apiWant(t, r, http.StatusTooManyRequests, provision.CodeCreateBudget)
	if e.Error.Message != "you can add a channel again in 27 minutes" {
		t.Fatalf("message %q", e.Error.Message)
	}
	var body struct {
		Error struct {
			RetryAfter int `json:"retry_after"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	want := int(start.Add(provision.CreateWindow).Sub(f.a.clock.Now()).Seconds())
	if r.Header.Get("Retry-After") != strconv.Itoa(want) || body.Error.RetryAfter != want {
		t.Fatalf("Retry-After %q, retry_after %d; want %d", r.Header.Get("Retry-After"), body.Error.RetryAfter, want)
	}
	// An admin creating for her is told which limit.
	r = f.call(f.admin, "POST", "/api/channels", fmt.Sprintf(`{"name":"for alice","user_id":%d}`, f.alice.id))
	e = apiWant(t, r, http.StatusTooManyRequests, provision.CodeCreateBudget)
	if !strings.Contains(e.Error.Message, "this customer's share of new channels is used") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("admin's words %q", e.Error.Message)
	}
	// Bob is not locked out.
	f.createChannel(f.bob, "shop")
	// Nothing of the refusals is left but one audit event.
	failed := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels?status=failed", ""))
	if failed.Total != 0 {
		t.Fatalf("refused creates left channels: %+v", failed)
	}
	// The window reopens.
	f.a.clock.Set(start.Add(provision.CreateWindow))
	f.createChannel(f.alice, "again")
}

// The customer's dashboard says when a channel can be added again; the
// refused attempt leaves nothing on it.
func TestCustomerCreateBudgetRefusal(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true; o.maxChannels = 1 })
	u := f.customer("alice@example.com", true)
	for i := range 3 {
		ch := f.channel(u, fmt.Sprintf("churn %d", i))
		if _, err := f.svc.Delete(context.Background(), models.SystemActor, ch.ID); err != nil {
			t.Fatal(err)
		}
	}
	f.advance(10 * time.Minute)
	c := f.signedIn("alice@example.com")
	r := c.submit("/app", "/app/channels", url.Values{"name": {"Kiosk"}})
	if flash := custFlash(t, c, r, "/app"); flash != "You can add a channel again in 20 minutes." {
		t.Fatalf("flash %q", flash)
	}
	page := c.get("/app").body
	custHasNot(t, page, "Kiosk")
	if n, _ := f.store.CountLiveChannels(context.Background(), u.ID); n != 0 {
		t.Fatalf("%d live channels", n)
	}
}

// The customers' share is a setting of the WHAPI Settings page: saved
// with an audit event; a bad value is refused beside the field and changes
// nothing.
func TestCreateShareSetting(t *testing.T) {
	a, c := adminClient(t)
	a.apiConfigureToken()
	page := c.get("/admin/settings/whapi")
	custHas(t, page.body, "New channels per customer in 30 minutes: plan limit plus")
	if !strings.Contains(page.body, `name="create_share_extra"`) || !strings.Contains(page.body, `value="2"`) {
		t.Fatal("the setting is not on the page with its default, 2")
	}
	for _, bad := range []string{"-1", "1001", "two"} {
		r := c.submit("/admin/settings/whapi", "/admin/settings/whapi", url.Values{"create_share_extra": {bad}})
		custWant(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, `id="create_share_extra-error"`) && !strings.Contains(r.body, `data-testid="error-create_share_extra"`) {
			t.Fatalf("%q: no error beside the field:\n%s", bad, custText(r.body))
		}
		if st, _ := a.store.Settings(context.Background()); st.CreateShareExtra != 2 {
			t.Fatalf("%q changed the setting to %d", bad, st.CreateShareExtra)
		}
	}
	r := c.submit("/admin/settings/whapi", "/admin/settings/whapi", url.Values{"create_share_extra": {"5"}})
	custWant(t, r, http.StatusSeeOther)
	if st, _ := a.store.Settings(context.Background()); st.CreateShareExtra != 5 {
		t.Fatalf("saved %d", st.CreateShareExtra)
	}
	evs, _ := a.store.ListAudit(context.Background(), 10, 0)
	audited := false
	for _, ev := range evs {
		audited = audited || ev.Action == "settings.whapi.update" && strings.Contains(ev.Detail, "plan limit + 2 → + 5")
	}
	if !audited {
		t.Fatalf("audit %+v", evs)
	}
	// The API reads and writes it too.
	admin, err := a.store.UserByEmail(context.Background(), "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := a.store.CreateAPIKey(context.Background(), models.SystemActor, admin.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	api := a.client()
	r = api.jsonReq("PUT", "/api/settings/whapi", `{"create_share_extra":-1}`, "Authorization", "Bearer "+key)
	if e := apiWant(t, r, http.StatusUnprocessableEntity, "invalid_input"); e.Error.Fields["create_share_extra"] == "" {
		t.Fatalf("no field error: %s", r.body)
	}
	r = api.jsonReq("PUT", "/api/settings/whapi", `{"create_share_extra":3}`, "Authorization", "Bearer "+key)
	apiWant(t, r, http.StatusOK, "")
	if !strings.Contains(r.body, `"create_share_extra":3`) {
		t.Fatalf("answer %s", r.body)
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// apiConfigureToken saves the simulator's partner token, as an admin would.
func (a *testApp) apiConfigureToken() {
	a.t.Helper()
	tok, err := provision.NormalizePartnerToken("Bearer " + a.partnerToken)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, _, err := a.store.UpdateSettings(context.Background(), models.SystemActor,
		models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		a.t.Fatal(err)
	}
}

// apiWho is someone calling the API with their API key.
type apiWho struct {
	id       int64
	email    string
	key      string
	customer bool
}

// apiFix is an app with an admin and two customers (alice, bob), each with
// an API key. Every answer a customer gets is kept, and at the end of the
// test checked for WHAPI's name, ids and tokens.
type apiFix struct {
	t                 *testing.T
	a                 *testApp
	c                 *testClient
	admin, alice, bob apiWho

	mu   sync.Mutex
	seen []string
}

func newAPIFix(t *testing.T, opts ...func(*appOptions)) *apiFix {
	t.Helper()
	a := newTestApp(t, opts...)
	a.apiConfigureToken()
	f := &apiFix{t: t, a: a, c: a.client()}
	f.admin = f.newWho(models.RoleAdmin, "admin@example.com")
	f.alice = f.newWho(models.RoleCustomer, "alice@example.com")
	f.bob = f.newWho(models.RoleCustomer, "bob@example.com")
	t.Cleanup(f.checkNoUpstreamDetails)
	return f
}

func (f *apiFix) newWho(role models.Role, email string) apiWho {
	f.t.Helper()
	u := f.a.newUser(role, email)
	key, _, err := f.a.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return apiWho{id: u.ID, email: email, key: key, customer: role == models.RoleCustomer}
}

// call sends a JSON request as who.
func (f *apiFix) call(who apiWho, method, path, body string) result {
	f.t.Helper()
	r := f.c.jsonReq(method, path, body, "Authorization", "Bearer "+who.key)
	if who.customer {
		f.record(r)
	}
	return r
}

// record keeps a customer's answer: body and headers.
func (f *apiFix) record(r result) {
	var b strings.Builder
	b.WriteString(r.body)
	for k, vs := range r.Header {
		b.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	f.mu.Lock()
	f.seen = append(f.seen, b.String())
	f.mu.Unlock()
}

// checkNoUpstreamDetails fails the test if any customer answer holds
// WHAPI's name, a WHAPI channel id or token, the partner token or the
// marker of WHAPI channel names.
func (f *apiFix) checkNoUpstreamDetails() {
	tok := f.a.partnerToken
	needles := []string{tok[:40], tok[len(tok)-40:], "[wd-"}
	for _, ch := range f.a.sim.Channels() {
		needles = append(needles, ch.ID, ch.Token)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.seen {
		if strings.Contains(strings.ToLower(s), "whapi") {
			f.t.Errorf("a customer answer names WHAPI:\n%s", s)
		}
		for _, n := range needles {
			if strings.Contains(s, n) {
				f.t.Errorf("a customer answer holds an upstream id, token or marker %q:\n%s", n, s)
			}
		}
	}
}

// apiErrorBody is the body of an error answer.
type apiErrorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// apiWant checks an answer's status and, for errors, its code; it returns
// the error body (zero for successes).
func apiWant(t *testing.T, r result, status int, code string) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q", r.Request.Method, r.Request.URL.Path, ct)
	}
	if code != "" {
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
			t.Fatalf("%s %s: want error %q: %s", r.Request.Method, r.Request.URL.Path, code, r.body)
		}
	}
	return e
}

// apiDecode decodes an answer's body.
func apiDecode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// apiKeysOf returns the sorted keys of a JSON object.
func apiKeysOf(t *testing.T, body string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not an object: %s", body)
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var apiChannelKeys = []string{"active_till", "created_at", "days_allocated", "id", "linked", "name", "phone", "status", "stopped"}

// createPlan creates a plan through the API and returns its id.
func (f *apiFix) createPlan(name string, maxChannels, daysPerPeriod, periodDays int64) int64 {
	f.t.Helper()
	r := f.call(f.admin, "POST", "/api/plans", fmt.Sprintf(`{"name":%q,"max_channels":%d,"days_per_period":%d,"period_days":%d}`,
		name, maxChannels, daysPerPeriod, periodDays))
	apiWant(f.t, r, http.StatusCreated, "")
	return apiDecode[apiPlan](f.t, r).ID
}

// subscribe activates a plan for a customer through the API.
func (f *apiFix) subscribe(userID, planID int64) apiSubscription {
	f.t.Helper()
	r := f.call(f.admin, "POST", fmt.Sprintf("/api/users/%d/subscription", userID), fmt.Sprintf(`{"plan_id":%d}`, planID))
	apiWant(f.t, r, http.StatusCreated, "")
	return apiDecode[apiSubscription](f.t, r)
}

// createChannel creates a channel as who and returns it.
func (f *apiFix) createChannel(who apiWho, name string) apiChannel {
	f.t.Helper()
	r := f.call(who, "POST", "/api/channels", fmt.Sprintf(`{"name":%q}`, name))
	apiWant(f.t, r, http.StatusCreated, "")
	return apiDecode[apiChannel](f.t, r)
}

func (f *apiFix) balance(userID int64) int64 {
	f.t.Helper()
	u, err := f.a.store.UserByID(context.Background(), userID)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.DayBalance
}

func (f *apiFix) checkLedger() {
	f.t.Helper()
	bad, err := f.a.store.CheckLedger(context.Background())
	if err != nil || len(bad) > 0 {
		f.t.Fatalf("ledger mismatch: %v %+v", err, bad)
	}
}

func TestAPIChannelLifecycle(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()

	// Plans.
	r := f.call(f.admin, "POST", "/api/plans", `{"name":"Basic","max_channels":2,"days_per_period":30,"period_days":30}`)
	apiWant(t, r, http.StatusCreated, "")
	if got := apiKeysOf(t, r.body); !slices.Equal(got, []string{"active", "days_per_period", "id", "max_channels", "name", "period_days", "subscribers"}) {
		t.Fatalf("plan keys %v", got)
	}
	plan := apiDecode[apiPlan](t, r)
	if plan.ID == 0 || plan.Name != "Basic" || plan.MaxChannels != 2 || !plan.Active || plan.Subscribers == nil || *plan.Subscribers != 0 {
		t.Fatalf("plan %+v", plan)
	}
	e := apiWant(t, f.call(f.admin, "POST", "/api/plans", `{"name":"basic","max_channels":2,"days_per_period":30,"period_days":30}`),
		http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["name"] == "" {
		t.Fatalf("duplicate name: %+v", e)
	}
	e = apiWant(t, f.call(f.admin, "POST", "/api/plans", `{"name":"","max_channels":0,"days_per_period":-1,"period_days":4000}`),
		http.StatusUnprocessableEntity, "invalid_input")
	for _, k := range []string{"name", "max_channels", "days_per_period", "period_days"} {
		if e.Error.Fields[k] == "" {
			t.Errorf("no message for %s: %+v", k, e.Error.Fields)
		}
	}
	apiWant(t, f.call(f.admin, "POST", "/api/plans", `{"name":"X","max_channels":"two"}`), http.StatusBadRequest, "bad_json")

	// No plan yet: no channel.
	apiWant(t, f.call(f.alice, "POST", "/api/channels", `{"name":"Sales"}`), http.StatusConflict, "no_active_plan")

	sub := f.subscribe(f.alice.id, plan.ID)
	if sub.ID == 0 || sub.Status != "active" || sub.Plan.ID != plan.ID || sub.CurrentPeriodStart == "" || sub.CurrentPeriodEnd == "" {
		t.Fatalf("subscription %+v", sub)
	}
	start, err1 := time.Parse(time.RFC3339, sub.CurrentPeriodStart)
	end, err2 := time.Parse(time.RFC3339, sub.CurrentPeriodEnd)
	if err1 != nil || err2 != nil || end.Sub(start) != 30*24*time.Hour {
		t.Fatalf("period %s – %s", sub.CurrentPeriodStart, sub.CurrentPeriodEnd)
	}
	if b := f.balance(f.alice.id); b != 60 {
		t.Fatalf("balance after activation %d, want 30 days × 2 channels", b)
	}
	plans := apiDecode[apiList[apiPlan]](t, f.call(f.admin, "GET", "/api/plans", ""))
	if plans.Total != 1 || len(plans.Items) != 1 || *plans.Items[0].Subscribers != 1 {
		t.Fatalf("plans %+v", plans)
	}

	// Create within the plan.
	r = f.call(f.alice, "POST", "/api/channels", `{"name":"  Sales  ","phone":"+49 151 2345-678"}`)
	apiWant(t, r, http.StatusCreated, "")
	if got := apiKeysOf(t, r.body); !slices.Equal(got, apiChannelKeys) {
		t.Fatalf("channel keys %v, want %v", got, apiChannelKeys)
	}
	sales, salesBody := apiDecode[apiChannel](t, r), r.body
	if sales.Name != "Sales" || sales.Phone != "491512345678" || sales.Status != "trial" || sales.ActiveTill == nil ||
		sales.DaysAllocated != 0 || sales.Linked {
		t.Fatalf("created %+v", sales)
	}
	if _, err := time.Parse(time.RFC3339, *sales.ActiveTill); err != nil {
		t.Fatal(err)
	}
	support := f.createChannel(f.alice, "Support")
	apiWant(t, f.call(f.alice, "POST", "/api/channels", `{"name":"Third"}`), http.StatusConflict, "plan_limit")
	e = apiWant(t, f.call(f.alice, "POST", "/api/channels", `{"name":"","phone":"12ab"}`), http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["name"] == "" || e.Error.Fields["phone"] == "" {
		t.Fatalf("fields %+v", e.Error.Fields)
	}

	// Read.
	list := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels", ""))
	if list.Total != 2 || len(list.Items) != 2 || list.Limit != 50 || list.Offset != 0 {
		t.Fatalf("list %+v", list)
	}
	if r := f.call(f.alice, "GET", fmt.Sprintf("/api/channels/%d", sales.ID), ""); r.body != salesBody {
		t.Fatalf("GET %s, want %s", r.body, salesBody)
	}
	page := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels?limit=1&offset=1", ""))
	if page.Total != 2 || len(page.Items) != 1 || page.Items[0].ID != sales.ID { // newest first
		t.Fatalf("page %+v", page)
	}
	// The total is the same whether the page shows it (not full) or it is
	// counted (a full page, or one past the end).
	for q, items := range map[string]int{"limit=1": 1, "limit=2": 2, "limit=3": 2, "offset=1": 1, "offset=2": 0, "offset=5&limit=1": 0} {
		if page := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels?"+q, "")); page.Total != 2 || len(page.Items) != items {
			t.Fatalf("?%s: %+v, want total 2 and %d items", q, page, items)
		}
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "offset=-1", "status=alive", "user_id=abc"} {
		apiWant(t, f.call(f.alice, "GET", "/api/channels?"+q, ""), http.StatusUnprocessableEntity, "invalid_input")
	}

	// Extend (admin).
	path := fmt.Sprintf("/api/channels/%d/extend", sales.ID)
	r = f.call(f.admin, "POST", path, `{"days":10,"comment":"first month"}`)
	apiWant(t, r, http.StatusOK, "")
	ext := apiDecode[apiChannel](t, r)
	if ext.DaysAllocated != 10 || ext.Status != "active" || *ext.ActiveTill <= *sales.ActiveTill {
		t.Fatalf("extended %+v (was %+v)", ext, sales)
	}
	if b := f.balance(f.alice.id); b != 50 {
		t.Fatalf("balance %d after extending 10", b)
	}
	dbCh, _ := f.a.store.ChannelByID(ctx, sales.ID)
	if st, _ := f.a.sim.Channel(dbCh.RemoteID()); st.ExtendedDays != 10 || st.Mode != "live" {
		t.Fatalf("upstream channel %+v", st)
	}
	e = apiWant(t, f.call(f.admin, "POST", path, `{"days":0,"comment":" "}`), http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["days"] == "" || e.Error.Fields["comment"] == "" {
		t.Fatalf("fields %+v", e.Error.Fields)
	}
	apiWant(t, f.call(f.admin, "POST", path, `{"days":51,"comment":"too many"}`), http.StatusConflict, "insufficient_balance")
	apiWant(t, f.call(f.admin, "POST", path, `{"days":1.5,"comment":"half"}`), http.StatusBadRequest, "bad_json")
	apiWant(t, f.call(f.admin, "POST", "/api/channels/999999/extend", `{"days":1,"comment":"x"}`), http.StatusNotFound, "not_found")
	if b := f.balance(f.alice.id); b != 50 {
		t.Fatalf("refused extends moved days: balance %d", b)
	}

	// Delete: the unused paid days come back.
	r = f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", sales.ID), "")
	apiWant(t, r, http.StatusOK, "")
	if r.body != `{"days_returned":10}`+"\n" {
		t.Fatalf("delete answer %q", r.body)
	}
	if b := f.balance(f.alice.id); b != 60 {
		t.Fatalf("balance %d after the delete", b)
	}
	if st, _ := f.a.sim.Channel(dbCh.RemoteID()); !st.Deleted {
		t.Fatal("the channel was not deleted upstream")
	}
	apiWant(t, f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", sales.ID), ""), http.StatusConflict, "already_deleted")
	if g := apiDecode[apiChannel](t, f.call(f.alice, "GET", fmt.Sprintf("/api/channels/%d", sales.ID), "")); g.Status != "deleted" {
		t.Fatalf("deleted channel %+v", g)
	}
	list = apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels", ""))
	if list.Total != 1 || list.Items[0].ID != support.ID {
		t.Fatalf("list after delete %+v", list)
	}
	list = apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels?status=deleted", ""))
	if list.Total != 1 || list.Items[0].ID != sales.ID {
		t.Fatalf("deleted list %+v", list)
	}
	// The slot is free again.
	f.createChannel(f.alice, "Third")

	// The ledger tells the story, newest first.
	r = f.call(f.admin, "GET", fmt.Sprintf("/api/users/%d/ledger", f.alice.id), "")
	apiWant(t, r, http.StatusOK, "")
	ledger := apiDecode[apiList[apiLedgerRow]](t, r)
	var kinds []string
	var sum int64
	for _, row := range ledger.Items {
		kinds = append(kinds, row.Kind)
		sum += row.Delta
	}
	if !slices.Equal(kinds, []string{"refund", "allocation", "plan_credit"}) || sum != 60 || ledger.Total != 3 {
		t.Fatalf("ledger %+v", ledger)
	}
	if row := ledger.Items[1]; row.Delta != -10 || row.ChannelID == nil || *row.ChannelID != sales.ID ||
		row.Comment != "first month" || row.Actor != "admin@example.com" {
		t.Fatalf("allocation row %+v", row)
	}
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	_ = json.Unmarshal([]byte(r.body), &raw)
	if string(raw.Items[2]["channel_id"]) != "null" || len(raw.Items[2]) != 7 {
		t.Fatalf("ledger row %v", raw.Items[2])
	}
	f.checkLedger()
}

func TestAPIAdminCreatesChannelForCustomer(t *testing.T) {
	f := newAPIFix(t)
	f.subscribe(f.alice.id, f.createPlan("Basic", 2, 30, 30))

	e := apiWant(t, f.call(f.admin, "POST", "/api/channels", `{"name":"For whom?"}`), http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["user_id"] == "" {
		t.Fatalf("fields %+v", e.Error.Fields)
	}
	for _, uid := range []int64{f.admin.id, 999999} {
		e = apiWant(t, f.call(f.admin, "POST", "/api/channels", fmt.Sprintf(`{"name":"x","user_id":%d}`, uid)), http.StatusUnprocessableEntity, "invalid_input")
		if e.Error.Fields["user_id"] == "" {
			t.Fatalf("user %d: fields %+v", uid, e.Error.Fields)
		}
	}
	apiWant(t, f.call(f.admin, "POST", "/api/channels", fmt.Sprintf(`{"name":"Bob's","user_id":%d}`, f.bob.id)), http.StatusConflict, "no_active_plan")

	r := f.call(f.admin, "POST", "/api/channels", fmt.Sprintf(`{"name":"Front desk","user_id":%d}`, f.alice.id))
	apiWant(t, r, http.StatusCreated, "")
	ch := apiDecode[apiChannel](t, r)
	if got := apiDecode[apiChannel](t, f.call(f.alice, "GET", fmt.Sprintf("/api/channels/%d", ch.ID), "")); got.Name != "Front desk" {
		t.Fatalf("alice sees %+v", got)
	}
	// A customer may name only themselves.
	apiWant(t, f.call(f.alice, "POST", "/api/channels", fmt.Sprintf(`{"name":"x","user_id":%d}`, f.bob.id)), http.StatusForbidden, "forbidden")
	apiWant(t, f.call(f.alice, "POST", "/api/channels", fmt.Sprintf(`{"name":"Mine","user_id":%d}`, f.alice.id)), http.StatusCreated, "")

	// Admin lists: all, by owner, by status.
	f.subscribe(f.bob.id, f.createPlan("Solo", 1, 10, 30))
	f.createChannel(f.bob, "Bob's")
	all := apiDecode[apiList[apiChannel]](t, f.call(f.admin, "GET", "/api/channels", ""))
	if all.Total != 3 {
		t.Fatalf("admin list %+v", all)
	}
	mine := apiDecode[apiList[apiChannel]](t, f.call(f.admin, "GET", fmt.Sprintf("/api/channels?user_id=%d", f.bob.id), ""))
	if mine.Total != 1 || mine.Items[0].Name != "Bob's" {
		t.Fatalf("bob's %+v", mine)
	}
	if l := apiDecode[apiList[apiChannel]](t, f.call(f.admin, "GET", "/api/channels?status=active", "")); l.Total != 0 {
		t.Fatalf("active %+v", l)
	}
	if l := apiDecode[apiList[apiChannel]](t, f.call(f.admin, "GET", "/api/channels?status=trial", "")); l.Total != 3 {
		t.Fatalf("trial %+v", l)
	}
	// The admin may delete any channel.
	apiWant(t, f.call(f.admin, "DELETE", fmt.Sprintf("/api/channels/%d", ch.ID), ""), http.StatusOK, "")
}

func TestAPICustomersAreIsolated(t *testing.T) {
	f := newAPIFix(t)
	f.subscribe(f.alice.id, f.createPlan("Basic", 2, 30, 30))
	ch := f.createChannel(f.alice, "Alice's")
	path := fmt.Sprintf("/api/channels/%d", ch.ID)

	// Bob cannot see or touch it, and cannot tell it from a missing id.
	missing := f.call(f.bob, "GET", "/api/channels/999999", "")
	apiWant(t, missing, http.StatusNotFound, "not_found")
	for _, r := range []result{
		f.call(f.bob, "GET", path, ""),
		f.call(f.bob, "DELETE", path, ""),
		f.call(f.bob, "GET", "/api/channels/abc", ""),
		f.call(f.bob, "DELETE", "/api/channels/-1", ""),
	} {
		apiWant(t, r, http.StatusNotFound, "not_found")
		if r.body != missing.body {
			t.Fatalf("a foreign channel answers differently from a missing one: %s vs %s", r.body, missing.body)
		}
	}
	if l := apiDecode[apiList[apiChannel]](t, f.call(f.bob, "GET", "/api/channels", "")); l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("bob lists %+v", l)
	}
	apiWant(t, f.call(f.bob, "GET", fmt.Sprintf("/api/channels?user_id=%d", f.alice.id), ""), http.StatusForbidden, "forbidden")

	// Admin routes are closed to customers.
	uid := f.alice.id
	for _, rt := range []struct{ method, path, body string }{
		{"POST", path + "/extend", `{"days":1,"comment":"x"}`},
		{"GET", "/api/plans", ""},
		{"POST", "/api/plans", `{"name":"Free","max_channels":100,"days_per_period":3650,"period_days":1}`},
		{"GET", "/api/users", ""},
		{"POST", "/api/users", `{"email":"evil@example.com","password":"0123456789abc","role":"admin"}`},
		{"GET", fmt.Sprintf("/api/users/%d", uid), ""},
		{"PATCH", fmt.Sprintf("/api/users/%d", f.bob.id), `{"allocation_mode":"auto"}`},
		{"POST", fmt.Sprintf("/api/users/%d/subscription", f.bob.id), `{"plan_id":1}`},
		{"POST", fmt.Sprintf("/api/users/%d/days", f.bob.id), `{"days":1000,"comment":"free days"}`},
		{"GET", fmt.Sprintf("/api/users/%d/ledger", uid), ""},
		{"GET", "/api/settings/whapi", ""},
	} {
		apiWant(t, f.call(f.bob, rt.method, rt.path, rt.body), http.StatusForbidden, "forbidden")
		apiWant(t, f.call(f.alice, rt.method, rt.path, rt.body), http.StatusForbidden, "forbidden")
	}
	if f.balance(f.bob.id) != 0 {
		t.Fatal("a customer credited themselves")
	}
	if u, _ := f.a.store.UserByEmail(context.Background(), "evil@example.com"); u != nil {
		t.Fatal("a customer created a user")
	}

	// Alice's channel is untouched.
	if g := apiDecode[apiChannel](t, f.call(f.alice, "GET", path, "")); g.Status != "trial" || g.DaysAllocated != 0 {
		t.Fatalf("alice's channel %+v", g)
	}
	live := 0
	for _, st := range f.a.sim.Channels() {
		if !st.Deleted {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d channels upstream", live)
	}

	// Unknown routes are "not found", not "forbidden".
	apiWant(t, f.call(f.bob, "GET", "/api/nothing", ""), http.StatusNotFound, "not_found")
	apiWant(t, f.call(f.bob, "GET", path+"/nothing", ""), http.StatusNotFound, "not_found")
	apiWant(t, f.call(f.admin, "GET", "/api/nothing", ""), http.StatusNotFound, "not_found")

	// Without credentials: 401 (reads) or the CSRF refusal (changes).
	anon := f.a.client()
	apiWant(t, anon.jsonReq("GET", "/api/channels", ""), http.StatusUnauthorized, "unauthorized")
	apiWant(t, anon.jsonReq("GET", path, ""), http.StatusUnauthorized, "unauthorized")
	apiWant(t, anon.jsonReq("GET", "/api/users", ""), http.StatusUnauthorized, "unauthorized")
	apiWant(t, anon.jsonReq("GET", "/api/nothing", ""), http.StatusUnauthorized, "unauthorized")
	if r := anon.jsonReq("POST", "/api/channels", `{"name":"x"}`); r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous create: %d %s", r.StatusCode, r.body)
	}
}

func TestAPIMassAssignmentIsRefused(t *testing.T) {
	f := newAPIFix(t)
	f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
	userPath := fmt.Sprintf("/api/users/%d", f.alice.id)
	for _, body := range []string{
		`{"role":"admin"}`,
		`{"day_balance":100000}`,
		`{"user_id":1}`,
		`{"email":"other@example.com"}`,
		`{"password":"0123456789abcdef"}`,
		`{"name":"Alice","role":"admin"}`,
		`{"allocation_mode":"auto","day_balance":5}`,
		`{"allocation_mode":"auto"} {"role":"admin"}`,
	} {
		apiWant(t, f.call(f.admin, "PATCH", userPath, body), http.StatusBadRequest, "bad_json")
	}
	u, _ := f.a.store.UserByID(context.Background(), f.alice.id)
	if u.Role != models.RoleCustomer || u.DayBalance != 30 || u.Email != "alice@example.com" || u.Name != "alice@example.com" ||
		u.AllocationMode != models.AllocationManual {
		t.Fatalf("a refused PATCH changed the user: %+v", u)
	}
	// Customers cannot set what provision decides.
	for _, body := range []string{
		`{"name":"x","status":"active"}`,
		`{"name":"x","days_allocated":365}`,
		`{"name":"x","token":"abc"}`,
		`{"name":"x","id":1}`,
	} {
		apiWant(t, f.call(f.alice, "POST", "/api/channels", body), http.StatusBadRequest, "bad_json")
	}
	apiWant(t, f.call(f.admin, "POST", "/api/users", `{"email":"c@example.com","password":"0123456789ab","role":"customer","day_balance":500}`),
		http.StatusBadRequest, "bad_json")
	apiWant(t, f.call(f.admin, "POST", fmt.Sprintf("/api/users/%d/days", f.alice.id), `{"days":1,"comment":"x","kind":"refund"}`),
		http.StatusBadRequest, "bad_json")
	// A customer cannot reach PATCH at all, not even on themselves.
	apiWant(t, f.call(f.alice, "PATCH", userPath, `{"allocation_mode":"auto"}`), http.StatusForbidden, "forbidden")
	if f.balance(f.alice.id) != 30 {
		t.Fatal("days moved")
	}
	if l, _, _ := f.a.store.ListChannels(context.Background(), models.ChannelFilter{IncludeGone: true}); len(l) != 0 {
		t.Fatalf("refused creates made channels: %+v", l)
	}
}

func TestAPIUsers(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()

	r := f.call(f.admin, "POST", "/api/users", `{"email":"  Carol@Example.com ","name":"Carol","password":"0123456789ab"}`)
	apiWant(t, r, http.StatusCreated, "")
	if got := apiKeysOf(t, r.body); !slices.Equal(got, []string{"allocation_mode", "day_balance", "disabled", "email", "id", "name", "plan", "role"}) {
		t.Fatalf("user keys %v", got)
	}
	carol := apiDecode[apiUser](t, r)
	if carol.Email != "carol@example.com" || carol.Role != "customer" || carol.AllocationMode != "manual" || carol.DayBalance != 0 ||
		carol.Disabled || carol.Plan != nil || !strings.Contains(r.body, `"plan":null`) || strings.Contains(r.body, "0123456789ab") {
		t.Fatalf("created %s", r.body)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"email":"carol@example.com","password":"0123456789ab","role":"customer"}`, "email"},
		{`{"email":"not an email","password":"0123456789ab"}`, "email"},
		{`{"email":"dave@example.com","password":"short"}`, "password"},
		{`{"email":"dave@example.com","password":"` + strings.Repeat("x", 73) + `"}`, "password"},
		{`{"email":"dave@example.com","password":"Password12"}`, "password"},           // one of the most common
		{`{"email":"dave@example.com","password":"          "}`, "password"},           // ten spaces
		{`{"email":"dave.jones@example.com","password":"Dave.Jones1970"}`, "password"}, // the e-mail's name
		{`{"email":"dave@example.com","password":"0123456789ab","role":"root"}`, "role"},
		{`{"email":"dave@example.com","password":"0123456789ab","name":"a\u0000b"}`, "name"},
	} {
		e := apiWant(t, f.call(f.admin, "POST", "/api/users", tt.body), http.StatusUnprocessableEntity, "invalid_input")
		if e.Error.Fields[tt.field] == "" {
			t.Errorf("%s: fields %+v", tt.body, e.Error.Fields)
		}
		for _, email := range []string{"dave@example.com", "dave.jones@example.com"} {
			if _, err := f.a.store.UserByEmail(ctx, email); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("%s: a refused user was stored (%v)", tt.body, err)
			}
		}
	}
	r = f.call(f.admin, "POST", "/api/users", `{"email":"ops@example.com","name":"Ops","password":"0123456789ab","role":"admin"}`)
	apiWant(t, r, http.StatusCreated, "")
	ops := apiDecode[apiUser](t, r)
	if ops.Role != "admin" {
		t.Fatalf("admin %+v", ops)
	}

	// List, filter, paginate.
	all := apiDecode[apiList[apiUser]](t, f.call(f.admin, "GET", "/api/users", ""))
	if all.Total != 5 || len(all.Items) != 5 || all.Items[0].Email != "admin@example.com" {
		t.Fatalf("users %+v", all)
	}
	if l := apiDecode[apiList[apiUser]](t, f.call(f.admin, "GET", "/api/users?role=customer", "")); l.Total != 3 {
		t.Fatalf("customers %+v", l)
	}
	if l := apiDecode[apiList[apiUser]](t, f.call(f.admin, "GET", "/api/users?q=CAROL", "")); l.Total != 1 || l.Items[0].ID != carol.ID {
		t.Fatalf("search %+v", l)
	}
	if l := apiDecode[apiList[apiUser]](t, f.call(f.admin, "GET", "/api/users?limit=2&offset=2", "")); l.Total != 5 || len(l.Items) != 2 || l.Limit != 2 {
		t.Fatalf("page %+v", l)
	}
	for _, q := range []string{"limit=0", "limit=500", "offset=x", "role=root", "mode=sometimes", "status=gone", "plan_id=-3"} {
		apiWant(t, f.call(f.admin, "GET", "/api/users?"+q, ""), http.StatusUnprocessableEntity, "invalid_input")
	}
	apiWant(t, f.call(f.admin, "GET", "/api/users/999999", ""), http.StatusNotFound, "not_found")
	apiWant(t, f.call(f.admin, "GET", "/api/users/carol", ""), http.StatusNotFound, "not_found")

	// Subscription.
	userPath := fmt.Sprintf("/api/users/%d", carol.ID)
	planID := f.createPlan("Pro", 3, 30, 30)
	e := apiWant(t, f.call(f.admin, "POST", userPath+"/subscription", `{}`), http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["plan_id"] == "" {
		t.Fatalf("fields %+v", e.Error.Fields)
	}
	apiWant(t, f.call(f.admin, "POST", userPath+"/subscription", `{"plan_id":999}`), http.StatusUnprocessableEntity, "invalid_input")
	apiWant(t, f.call(f.admin, "POST", "/api/users/999999/subscription", fmt.Sprintf(`{"plan_id":%d}`, planID)), http.StatusNotFound, "not_found")
	apiWant(t, f.call(f.admin, "POST", fmt.Sprintf("/api/users/%d/subscription", ops.ID), fmt.Sprintf(`{"plan_id":%d}`, planID)),
		http.StatusConflict, "not_customer")
	f.subscribe(carol.ID, planID)
	apiWant(t, f.call(f.admin, "POST", userPath+"/subscription", fmt.Sprintf(`{"plan_id":%d}`, planID)), http.StatusConflict, "already_on_plan")
	retired := f.createPlan("Old", 1, 1, 1)
	if err := f.a.store.SetPlanActive(ctx, models.SystemActor, retired, false); err != nil {
		t.Fatal(err)
	}
	apiWant(t, f.call(f.admin, "POST", userPath+"/subscription", fmt.Sprintf(`{"plan_id":%d}`, retired)), http.StatusConflict, "plan_retired")

	r = f.call(f.admin, "GET", userPath, "")
	apiWant(t, r, http.StatusOK, "")
	got := apiDecode[apiUser](t, r)
	if got.DayBalance != 90 || got.Plan == nil || got.Plan.ID != planID || got.Plan.Name != "Pro" || got.Plan.MaxChannels != 3 ||
		got.Plan.DaysPerPeriod != 30 || got.Plan.PeriodDays != 30 || got.Plan.Status != "active" || got.Plan.CurrentPeriodEnd == "" {
		t.Fatalf("user with plan %s", r.body)
	}
	var planKeys struct {
		Plan json.RawMessage `json:"plan"`
	}
	_ = json.Unmarshal([]byte(r.body), &planKeys)
	if k := apiKeysOf(t, string(planKeys.Plan)); !slices.Equal(k, []string{"current_period_end", "days_per_period", "id", "max_channels", "name", "period_days", "status"}) {
		t.Fatalf("plan keys %v", k)
	}
	if l := apiDecode[apiList[apiUser]](t, f.call(f.admin, "GET", fmt.Sprintf("/api/users?plan_id=%d", planID), "")); l.Total != 1 || l.Items[0].Plan == nil {
		t.Fatalf("by plan %+v", l)
	}

	// Days.
	r = f.call(f.admin, "POST", userPath+"/days", `{"days":5,"comment":"goodwill"}`)
	apiWant(t, r, http.StatusOK, "")
	if u := apiDecode[apiUser](t, r); u.DayBalance != 95 || u.Plan == nil {
		t.Fatalf("after credit %s", r.body)
	}
	e = apiWant(t, f.call(f.admin, "POST", userPath+"/days", `{"days":0,"comment":""}`), http.StatusUnprocessableEntity, "invalid_input")
	if e.Error.Fields["days"] == "" || e.Error.Fields["comment"] == "" {
		t.Fatalf("fields %+v", e.Error.Fields)
	}
	apiWant(t, f.call(f.admin, "POST", "/api/users/999999/days", `{"days":1,"comment":"x"}`), http.StatusNotFound, "not_found")
	apiWant(t, f.call(f.admin, "POST", fmt.Sprintf("/api/users/%d/days", ops.ID), `{"days":1,"comment":"x"}`), http.StatusConflict, "not_customer")

	// Ledger: newest first, paginated.
	ledger := apiDecode[apiList[apiLedgerRow]](t, f.call(f.admin, "GET", userPath+"/ledger?limit=1", ""))
	if ledger.Total != 2 || len(ledger.Items) != 1 || ledger.Items[0].Kind != "admin_credit" || ledger.Items[0].Delta != 5 ||
		ledger.Items[0].Comment != "goodwill" || ledger.Items[0].Actor != "admin@example.com" {
		t.Fatalf("ledger %+v", ledger)
	}
	apiWant(t, f.call(f.admin, "GET", "/api/users/999999/ledger", ""), http.StatusNotFound, "not_found")

	// PATCH.
	r = f.call(f.admin, "PATCH", userPath, `{"allocation_mode":"auto","name":"  Carol C.  "}`)
	apiWant(t, r, http.StatusOK, "")
	if u := apiDecode[apiUser](t, r); u.AllocationMode != "auto" || u.Name != "Carol C." || u.DayBalance != 95 {
		t.Fatalf("patched %s", r.body)
	}
	for _, tt := range []struct {
		path, body, field string
	}{
		{userPath, `{"allocation_mode":"sometimes"}`, "allocation_mode"},
		{fmt.Sprintf("/api/users/%d", ops.ID), `{"allocation_mode":"auto"}`, "allocation_mode"},
		{userPath, `{"name":"` + strings.Repeat("n", 101) + `"}`, "name"},
		{fmt.Sprintf("/api/users/%d", f.admin.id), `{"disabled":true}`, "disabled"},
	} {
		e := apiWant(t, f.call(f.admin, "PATCH", tt.path, tt.body), http.StatusUnprocessableEntity, "invalid_input")
		if e.Error.Fields[tt.field] == "" {
			t.Errorf("%s: fields %+v", tt.body, e.Error.Fields)
		}
	}
	// A mixed PATCH with one bad field changes nothing.
	apiWant(t, f.call(f.admin, "PATCH", userPath, `{"name":"Changed","allocation_mode":"bad"}`), http.StatusUnprocessableEntity, "invalid_input")
	if u, _ := f.a.store.UserByID(ctx, carol.ID); u.Name != "Carol C." || u.AllocationMode != models.AllocationAuto {
		t.Fatalf("a refused PATCH changed %+v", u)
	}
	apiWant(t, f.call(f.admin, "PATCH", "/api/users/999999", `{"name":"x"}`), http.StatusNotFound, "not_found")

	// Disabling a customer revokes their key at once; enabling does not
	// bring it back (TestDisabledUsersAPIKeysStayRevoked).
	alicePath := fmt.Sprintf("/api/users/%d", f.alice.id)
	if u := apiDecode[apiUser](t, f.call(f.admin, "PATCH", alicePath, `{"disabled":true}`)); !u.Disabled {
		t.Fatal("not disabled")
	}
	apiWant(t, f.call(f.alice, "GET", "/api/channels", ""), http.StatusUnauthorized, "unauthorized")
	if u := apiDecode[apiUser](t, f.call(f.admin, "PATCH", alicePath, `{"disabled":false}`)); u.Disabled {
		t.Fatal("still disabled")
	}
	apiWant(t, f.call(f.alice, "GET", "/api/channels", ""), http.StatusUnauthorized, "unauthorized")
	if u := apiDecode[apiUser](t, f.call(f.admin, "PATCH", alicePath, `{}`)); u.ID != f.alice.id {
		t.Fatal("empty PATCH")
	}

	// Every change is audited.
	evs, _ := f.a.store.ListAudit(ctx, 100, 0)
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	for _, a := range []string{"user.create", "user.rename", "user.allocation_mode", "user.disable", "user.enable", "days.credit", "subscription.activate", "plan.create"} {
		if !slices.Contains(actions, a) {
			t.Errorf("no audit event %s in %v", a, actions)
		}
	}
}

// TestAPIUpstreamProblems: what a customer is told when the service behind
// whapidesk refuses, is slow or limits, and that no day is lost.
func TestAPIUpstreamProblems(t *testing.T) {
	t.Run("not configured", func(t *testing.T) {
		a := newTestApp(t)
		u := a.newUser(models.RoleCustomer, "alice@example.com")
		key, _, _ := a.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "")
		r := a.client().jsonReq("POST", "/api/channels", `{"name":"x"}`, "Authorization", "Bearer "+key)
		apiWant(t, r, http.StatusServiceUnavailable, "not_configured")
		if strings.Contains(strings.ToLower(r.body), "whapi") {
			t.Fatalf("names WHAPI: %s", r.body)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		f := newAPIFix(t, func(o *appOptions) { o.sim.CreateLimit = 1 })
		f.subscribe(f.alice.id, f.createPlan("Basic", 3, 30, 30))
		f.createChannel(f.alice, "One")
		r := f.call(f.alice, "POST", "/api/channels", `{"name":"Two"}`)
		e := apiWant(t, r, http.StatusTooManyRequests, "create_budget")
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || secs < 1700 || secs > 1800 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if !strings.Contains(e.Error.Message, "you can add a channel again in 30 minutes") {
			t.Fatalf("message %q", e.Error.Message)
		}
		// The refused create took no slot.
		if n, _ := f.a.store.CountLiveChannels(context.Background(), f.alice.id); n != 1 {
			t.Fatalf("%d live channels", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		f := newAPIFix(t)
		f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
		f.a.sim.InjectFault(whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultStatus, Status: 400})
		apiWant(t, f.call(f.alice, "POST", "/api/channels", `{"name":"x"}`), http.StatusBadGateway, "upstream_refused")
		failed := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels?status=failed", ""))
		if failed.Total != 1 {
			t.Fatalf("failed %+v", failed)
		}
		// A failed channel frees its slot and can be removed.
		r := f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", failed.Items[0].ID), "")
		apiWant(t, r, http.StatusOK, "")
		if r.body != `{"days_returned":0}`+"\n" {
			t.Fatalf("delete %s", r.body)
		}
		f.createChannel(f.alice, "y")
	})
	t.Run("answer lost after the create", func(t *testing.T) {
		f := newAPIFix(t)
		f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
		f.a.sim.InjectFault(whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultLostAfterApply})
		ch := f.createChannel(f.alice, "Lost")
		if ch.Status != "trial" {
			t.Fatalf("%+v", ch)
		}
		if n := len(f.a.sim.Channels()); n != 1 {
			t.Fatalf("%d channels upstream, want 1 (no duplicate)", n)
		}
	})
	t.Run("no answer at all", func(t *testing.T) {
		f := newAPIFix(t, func(o *appOptions) { o.timeout = time.Second })
		f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
		f.a.sim.InjectFault(whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultHang, Delay: 5 * time.Second})
		f.a.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/list", Kind: whapisim.FaultStatus, Status: 500})
		r := f.call(f.alice, "POST", "/api/channels", `{"name":"Slow"}`)
		e := apiWant(t, r, http.StatusBadGateway, "pending")
		if !strings.Contains(e.Error.Message, "no day is lost") {
			t.Fatalf("message %q", e.Error.Message)
		}
		l := apiDecode[apiList[apiChannel]](t, f.call(f.alice, "GET", "/api/channels", ""))
		if l.Total != 1 || l.Items[0].Status != "pending" || !strings.Contains(e.Error.Message, fmt.Sprintf("/api/channels/%d", l.Items[0].ID)) {
			t.Fatalf("pending channel %+v; message %q", l, e.Error.Message)
		}
		apiWant(t, f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", l.Items[0].ID), ""), http.StatusConflict, "channel_busy")
	})
	t.Run("partner out of days", func(t *testing.T) {
		f := newAPIFix(t)
		f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
		ch := f.createChannel(f.alice, "x")
		f.a.sim.SetBalance(0)
		apiWant(t, f.call(f.admin, "POST", fmt.Sprintf("/api/channels/%d/extend", ch.ID), `{"days":10,"comment":"month"}`),
			http.StatusBadGateway, "partner_balance")
		if b := f.balance(f.alice.id); b != 30 {
			t.Fatalf("balance %d, want it untouched", b)
		}
		f.checkLedger()
	})
	t.Run("extended again within WHAPI's cool-down", func(t *testing.T) {
		f := newAPIFix(t, func(o *appOptions) { o.manualClock = true })
		f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
		ch := f.createChannel(f.alice, "x")
		path := fmt.Sprintf("/api/channels/%d/extend", ch.ID)
		apiWant(t, f.call(f.admin, "POST", path, `{"days":10,"comment":"month"}`), http.StatusOK, "")
		f.a.clock.Advance(time.Minute)
		r := f.call(f.admin, "POST", path, `{"days":5,"comment":"more"}`)
		e := apiWant(t, r, http.StatusTooManyRequests, "extend_too_soon")
		var body struct {
			Error struct {
				RetryAfter int `json:"retry_after"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error.RetryAfter != 240 || r.Header.Get("Retry-After") != "240" {
			t.Fatalf("retry_after %d, Retry-After %q, want 240 (%s)", body.Error.RetryAfter, r.Header.Get("Retry-After"), r.body)
		}
		if !strings.Contains(e.Error.Message, "in 4 minutes") || !strings.Contains(e.Error.Message, "nothing was moved") {
			t.Fatalf("message %q", e.Error.Message)
		}
		if b := f.balance(f.alice.id); b != 20 {
			t.Fatalf("balance %d, want 20: the refused extend moved days", b)
		}
		if st, _ := f.a.store.Settings(context.Background()); st.PartnerShortAt != nil {
			t.Fatal("the cool-down raised the partner-balance warning")
		}
		f.checkLedger()
		f.a.clock.Advance(4 * time.Minute)
		apiWant(t, f.call(f.admin, "POST", path, `{"days":5,"comment":"more"}`), http.StatusOK, "")
		if b := f.balance(f.alice.id); b != 15 {
			t.Fatalf("balance %d, want 15", b)
		}
	})
}

// TestAPICookieAuth: the pages' session works for the API, with the CSRF
// header on changes.
func TestAPICookieAuth(t *testing.T) {
	f := newAPIFix(t)
	f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
	c := f.a.client()
	c.login(f.alice.email)
	token := c.csrf("/app")

	r := c.jsonReq("POST", "/api/channels", `{"name":"x"}`)
	f.record(r)
	apiWant(t, r, http.StatusForbidden, "csrf")
	r = c.jsonReq("POST", "/api/channels", `{"name":"Web"}`, "X-CSRF-Token", token)
	f.record(r)
	apiWant(t, r, http.StatusCreated, "")
	ch := apiDecode[apiChannel](t, r)
	r = c.jsonReq("GET", "/api/channels", "")
	f.record(r)
	if l := apiDecode[apiList[apiChannel]](t, r); l.Total != 1 {
		t.Fatalf("list %+v", l)
	}
	r = c.jsonReq("DELETE", fmt.Sprintf("/api/channels/%d", ch.ID), "")
	f.record(r)
	apiWant(t, r, http.StatusForbidden, "csrf")
	r = c.jsonReq("DELETE", fmt.Sprintf("/api/channels/%d", ch.ID), "", "X-CSRF-Token", token)
	f.record(r)
	apiWant(t, r, http.StatusOK, "")
	r = c.jsonReq("GET", "/api/users", "")
	f.record(r)
	apiWant(t, r, http.StatusForbidden, "forbidden")
}

// Admins stop, start and restart a channel's line through the API; the
// channel says "stopped" while it is (its status stays what it was), and
// its owner may not do any of it.
func TestAPIStopStartRestart(t *testing.T) {
	f := newAPIFix(t)
	f.subscribe(f.alice.id, f.createPlan("Basic", 1, 30, 30))
	ch := f.createChannel(f.alice, "Sales")
	if ch.Stopped {
		t.Fatalf("a new channel: %+v", ch)
	}
	path := func(a string) string { return fmt.Sprintf("/api/channels/%d/%s", ch.ID, a) }
	for _, a := range []string{"restart", "stop", "start"} {
		apiWant(t, f.call(f.alice, "POST", path(a), ""), http.StatusForbidden, "forbidden")
	}
	apiWant(t, f.call(f.admin, "POST", path("start"), ""), http.StatusConflict, "channel_running")
	got := apiDecode[apiChannel](t, f.call(f.admin, "POST", path("stop"), ""))
	if !got.Stopped || got.Status != "trial" {
		t.Fatalf("stopped: %+v", got)
	}
	if own := apiDecode[apiChannel](t, f.call(f.alice, "GET", fmt.Sprintf("/api/channels/%d", ch.ID), "")); !own.Stopped {
		t.Fatalf("the owner's view: %+v", own)
	}
	for _, a := range []string{"stop", "restart"} {
		apiWant(t, f.call(f.admin, "POST", path(a), ""), http.StatusConflict, "channel_stopped")
	}
	// The plan's one slot is still taken.
	apiWant(t, f.call(f.alice, "POST", "/api/channels", `{"name":"Second"}`), http.StatusConflict, "plan_limit")
	if got := apiDecode[apiChannel](t, f.call(f.admin, "POST", path("start"), "")); got.Stopped {
		t.Fatalf("started: %+v", got)
	}
	r := f.call(f.admin, "POST", path("restart"), "")
	apiWant(t, r, http.StatusOK, "")
	if n := f.a.sim.CountRequests("POST", "/channels/"); n < 3 {
		t.Fatalf("%d changes sent upstream", n)
	}
	// WHAPI refuses: in our words.
	f.a.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 400, Message: "WHAPI-TEXT"})
	apiWant(t, f.call(f.admin, "POST", path("stop"), ""), http.StatusBadGateway, "upstream_refused")
	f.checkNoUpstreamDetails()
}

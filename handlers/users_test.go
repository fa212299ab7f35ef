package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// admFix is the app with an admin signed in, and a provision service of
// its own for what the admin pages do not do (creating channels).
type admFix struct {
	t     *testing.T
	a     *testApp
	c     *testClient
	admin *models.User
	svc   *provision.Service
}

func newAdmFix(t *testing.T, opts ...func(*appOptions)) *admFix {
	t.Helper()
	a := newTestApp(t, opts...)
	f := &admFix{t: t, a: a, admin: a.newUser(models.RoleAdmin, "admin@example.com")}
	f.c = a.client()
	f.c.login("admin@example.com")
	f.svc = a.svc
	return f
}

// configureToken saves the simulator's partner token, as the settings page would.
func (f *admFix) configureToken() {
	f.t.Helper()
	tok, err := provision.NormalizePartnerToken(f.a.partnerToken)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.a.store.UpdateSettings(context.Background(), models.SystemActor,
		models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *admFix) plan(name string, maxChannels, daysPerPeriod, periodDays int64) *models.Plan {
	f.t.Helper()
	p, err := f.a.store.CreatePlan(context.Background(), models.SystemActor,
		models.PlanInput{Name: name, MaxChannels: maxChannels, DaysPerPeriod: daysPerPeriod, PeriodDays: periodDays})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *admFix) user(id int64) *models.User {
	f.t.Helper()
	u, err := f.a.store.UserByID(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *admFix) channel(id int64) *models.Channel {
	f.t.Helper()
	ch, err := f.a.store.ChannelByID(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

// createChannel makes a channel for the customer through provision.
func (f *admFix) createChannel(userID int64, name string) *models.Channel {
	f.t.Helper()
	ch, err := f.svc.CreateChannel(context.Background(), models.SystemActor, provision.CreateInput{UserID: userID, Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

func (f *admFix) ledger(userID int64) []models.LedgerEntry {
	f.t.Helper()
	es, err := f.a.store.Ledger(context.Background(), userID, 100, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

// extends counts the extends the simulator received.
func (f *admFix) extends() int { return f.a.sim.CountRequests("POST", "/channels/") }

// admHTMXPost posts a form as HTMX does: HX-Request and the CSRF header.
func (c *testClient) admHTMXPost(page, action string, form url.Values) result {
	c.t.Helper()
	tok := c.csrf(page)
	req, err := http.NewRequest(http.MethodPost, c.app.srv.URL+action, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", tok)
	return c.do(req)
}

var admUserRow = regexp.MustCompile(`data-testid="user-(\d+)"`)

// admListed returns the ids of the users listed on a page of the list.
func admListed(body string) []string {
	var ids []string
	for _, m := range admUserRow.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestAdminUsersListSearchFiltersPages(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	basic := f.plan("Basic", 2, 30, 30)
	users := make([]*models.User, 60)
	for i := range users {
		u, err := f.a.store.CreateUser(ctx, models.NewUser{Email: fmt.Sprintf("c%02d@example.com", i), Name: fmt.Sprintf("Customer %02d", i),
			Password: testPassword, Role: models.RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u
		if i < 20 {
			if _, err := f.a.store.ActivatePlan(ctx, models.SystemActor, u.ID, basic.ID); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 {
			if err := f.a.store.SetAllocationMode(ctx, models.SystemActor, u.ID, models.AllocationAuto); err != nil {
				t.Fatal(err)
			}
		}
		if i >= 55 {
			if err := f.a.store.SetDisabled(ctx, models.SystemActor, u.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := f.c
	basicID := strconv.FormatInt(basic.ID, 10)
	for _, tt := range []struct {
		query   string
		rows    int
		summary string
	}{
		{"", 25, "1–25 of 60"},
		{"?page=2", 25, "26–50 of 60"},
		{"?page=3", 10, "51–60 of 60"},
		{"?page=99", 10, "51–60 of 60"}, // past the end: the last page
		{"?page=-1", 25, "1–25 of 60"},
		{"?q=C07", 1, "1–1 of 1"},
		{"?q=customer+1", 10, "1–10 of 10"},
		{"?q=nobody", 0, ""},
		{"?q=%25", 0, ""}, // LIKE wildcards are literal
		{"?plan=" + basicID, 20, "1–20 of 20"},
		{"?plan=none", 25, "1–25 of 40"},
		{"?mode=auto", 20, "1–20 of 20"},
		{"?mode=manual", 25, "1–25 of 40"},
		{"?mode=manual&page=2", 15, "26–40 of 40"},
		{"?status=disabled", 5, "1–5 of 5"},
		{"?status=active&plan=" + basicID + "&mode=auto", 7, "1–7 of 7"},
		{"?role=admin", 1, "1–1 of 1"},
		{"?role=all", 25, "1–25 of 61"},
		{"?mode=bogus&plan=x", 25, "1–25 of 60"}, // unknown values: any
	} {
		t.Run(tt.query, func(t *testing.T) {
			r := c.get("/admin/users" + tt.query)
			admWantStatus(t, r, http.StatusOK)
			if got := len(admListed(r.body)); got != tt.rows {
				t.Fatalf("%d rows, want %d", got, tt.rows)
			}
			if tt.summary != "" {
				admWantBody(t, r, tt.summary)
			} else {
				admWantBody(t, r, "No one matches this search.")
			}
		})
	}

	t.Run("rows show plan, channels of max, balance, mode and status", func(t *testing.T) {
		r := c.get("/admin/users?q=c03%40")
		admWantBody(t, r, "c03@example.com", "Customer 03", "Basic", "0 of 2", ">60<", `data-mode="auto"`, ">Auto<", ">Active<")
		r = c.get("/admin/users?q=c56")
		admWantBody(t, r, "No plan", `data-mode="manual"`, ">Manual<", ">Disabled<")
	})

	t.Run("page links keep the filters", func(t *testing.T) {
		r := c.get("/admin/users?mode=manual&q=example")
		admWantBody(t, r, `href="/admin/users?mode=manual&amp;page=2&amp;q=example"`, `rel="next"`)
		r = c.get("/admin/users?mode=manual&q=example&page=2")
		admWantBody(t, r, `href="/admin/users?mode=manual&amp;q=example"`, `rel="prev"`)
		for _, id := range admListed(r.body) {
			n, _ := strconv.ParseInt(id, 10, 64)
			if f.user(n).AllocationMode != models.AllocationManual {
				t.Fatalf("user %s on page 2 of manual users is not manual", id)
			}
		}
		// The filter form shows the filters in use.
		r = c.get("/admin/users?plan=none&status=disabled")
		admWantBody(t, r, `<option value="none" selected>`, `<option value="disabled" selected>`, `href="/admin/users">Clear`)
	})
}

func TestAdminCreateCustomer(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	c := f.c

	r := c.submit("/admin/users", "/admin/users", url.Values{"email": {" New@Example.com "}, "name": {"New One"}, "password": {testPassword}, "role": {"customer"}})
	admWantStatus(t, r, http.StatusSeeOther)
	u, err := f.a.store.UserByEmail(ctx, "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != models.RoleCustomer || u.Name != "New One" || u.AllocationMode != models.AllocationManual || u.DayBalance != 0 {
		t.Fatalf("created %+v", u)
	}
	if loc := r.Header.Get("Location"); loc != userPath(u.ID) {
		t.Fatalf("redirected to %q, want the new customer's page", loc)
	}
	admWantBody(t, c.get(userPath(u.ID)), "Customer new@example.com created.", "No active plan")
	if _, err := f.a.store.Authenticate(ctx, "new@example.com", testPassword); err != nil {
		t.Fatalf("the new customer cannot sign in: %v", err)
	}

	t.Run("through HTMX the browser is sent to the new page", func(t *testing.T) {
		r := c.admHTMXPost("/admin/users", "/admin/users", url.Values{"email": {"htmx@example.com"}, "password": {testPassword}, "role": {"admin"}})
		admWantStatus(t, r, http.StatusOK)
		a, err := f.a.store.UserByEmail(ctx, "htmx@example.com")
		if err != nil || a.Role != models.RoleAdmin {
			t.Fatalf("admin not created: %v %+v", err, a)
		}
		if got := r.Header.Get("HX-Redirect"); got != userPath(a.ID) {
			t.Fatalf("HX-Redirect %q", got)
		}
	})

	t.Run("bad input is refused next to the fields, nothing created", func(t *testing.T) {
		before, _, _ := f.a.store.ListUsersPage(ctx, models.UserFilter{})
		for _, tt := range []struct {
			form        url.Values
			field, says string
		}{
			{url.Values{"email": {"not-an-email"}, "password": {testPassword}, "role": {"customer"}}, "email", ""},
			{url.Values{"email": {"NEW@example.com"}, "password": {testPassword}, "role": {"customer"}}, "email", ""},
			{url.Values{"email": {"short@example.com"}, "password": {"short-pw"}, "role": {"customer"}}, "password", "at least 10 characters"},
			{url.Values{"email": {"common@example.com"}, "password": {"Password12"}, "role": {"customer"}}, "password", "one of the most common ones"},
			{url.Values{"email": {"blank@example.com"}, "password": {"          "}, "role": {"customer"}}, "password", "only spaces"},
			{url.Values{"email": {"ada.lovelace@example.com"}, "password": {"Ada.Lovelace1815"}, "role": {"customer"}}, "password", "e-mail"},
			{url.Values{"email": {"role@example.com"}, "password": {testPassword}, "role": {"root"}}, "role", ""},
		} {
			r := c.submit("/admin/users", "/admin/users", tt.form)
			admWantStatus(t, r, http.StatusUnprocessableEntity)
			admWantBody(t, r, `data-testid="error-`+tt.field+`"`, "No account was created", `value="`+tt.form.Get("email")+`"`, tt.says)
			if pw := tt.form.Get("password"); strings.TrimSpace(pw) != "" && strings.Contains(r.body, pw) {
				t.Fatal("the page shows the password typed")
			}
		}
		after, _, _ := f.a.store.ListUsersPage(ctx, models.UserFilter{})
		if len(after) != len(before) {
			t.Fatalf("%d users before, %d after refused creates", len(before), len(after))
		}
	})
}

func TestAdminModeToggle(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	c := f.c
	toggleID := `id="mode-toggle-` + strconv.FormatInt(cust.ID, 10) + `"`
	admWantBody(t, c.get("/admin/users"), toggleID, `data-mode="manual"`, ">Manual<", "Switch to auto")
	admWantBody(t, c.get(userPath(cust.ID)), toggleID, `data-mode="manual"`)

	t.Run("HTMX gets just the toggle", func(t *testing.T) {
		r := c.admHTMXPost("/admin/users", userPath(cust.ID)+"/mode", url.Values{"mode": {"auto"}, "back": {"/admin/users?mode=manual"}})
		admWantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(strings.TrimSpace(r.body), "<form "+toggleID) || strings.Contains(r.body, "<html") {
			t.Fatalf("the answer is not the toggle alone:\n%s", r.body)
		}
		admWantBody(t, r, `data-mode="auto"`, ">Auto<", "Switch to manual", `value="/admin/users?mode=manual"`,
			`id="flash"`, `hx-swap-oob="true"`, "cust@example.com is on automatic allocation now")
		if m := f.user(cust.ID).AllocationMode; m != models.AllocationAuto {
			t.Fatalf("mode %s after switching to auto", m)
		}
		evs, err := f.a.store.ListAudit(ctx, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].Action != "user.allocation_mode" || evs[0].Detail != "manual → auto" || evs[0].ActorEmail != "admin@example.com" {
			t.Fatalf("latest audit event: %+v", evs[0])
		}
	})

	t.Run("a plain post redirects back", func(t *testing.T) {
		r := c.submit("/admin/users", userPath(cust.ID)+"/mode", url.Values{"mode": {"manual"}, "back": {"/admin/users?mode=auto"}})
		admWantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/admin/users?mode=auto" {
			t.Fatalf("redirected to %q", loc)
		}
		if m := f.user(cust.ID).AllocationMode; m != models.AllocationManual {
			t.Fatalf("mode %s after switching to manual", m)
		}
		admWantBody(t, c.get("/admin/users"), "is on manual allocation now")
		// Only our own pages are gone back to.
		r = c.submit("/admin/users", userPath(cust.ID)+"/mode", url.Values{"mode": {"manual"}, "back": {"//evil.example/admin/users"}})
		if loc := r.Header.Get("Location"); loc != userPath(cust.ID) {
			t.Fatalf("redirected to %q", loc)
		}
	})

	t.Run("refused switches change nothing", func(t *testing.T) {
		n, _ := f.a.store.CountAudit(ctx)
		r := c.admHTMXPost("/admin/users", userPath(cust.ID)+"/mode", url.Values{"mode": {"sometimes"}})
		admWantStatus(t, r, http.StatusUnprocessableEntity)
		admWantBody(t, r, "Choose auto or manual.", `data-mode="manual"`)
		r = c.admHTMXPost("/admin/users", userPath(f.admin.ID)+"/mode", url.Values{"mode": {"auto"}})
		admWantStatus(t, r, http.StatusUnprocessableEntity)
		admWantBody(t, r, "Only customers have an allocation mode.")
		if m := f.user(f.admin.ID).AllocationMode; m != models.AllocationManual {
			t.Fatalf("the admin's mode became %s", m)
		}
		if after, _ := f.a.store.CountAudit(ctx); after != n {
			t.Fatalf("refused switches were audited: %d → %d events", n, after)
		}
		admWantStatus(t, c.submit("/admin/users", "/admin/users/9999/mode", url.Values{"mode": {"auto"}}), http.StatusNotFound)
	})
}

func TestAdminSubscriptionActivateRenewCancel(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	c := f.c
	plan := f.plan("Team", 3, 30, 30)
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	page := userPath(cust.ID)
	planID := strconv.FormatInt(plan.ID, 10)

	r := c.get(page)
	admWantBody(t, r, "No active plan.", `<option value="`+planID+`">Team — 3 channels, 30 days per 30-day period (+90 days now)`)

	// Activate: days per period × max channels, as a plan_credit ledger row.
	admWantStatus(t, c.submit(page, page+"/subscription", url.Values{"plan_id": {planID}}), http.StatusSeeOther)
	if b := f.user(cust.ID).DayBalance; b != 90 {
		t.Fatalf("balance %d after activation, want 30 × 3 = 90", b)
	}
	l := f.ledger(cust.ID)
	if len(l) != 1 || l[0].Kind != models.LedgerPlanCredit || l[0].Delta != 90 || l[0].Actor != "admin@example.com" {
		t.Fatalf("ledger after activation: %+v", l)
	}
	sub, err := f.a.store.ActiveSubscription(ctx, cust.ID)
	if err != nil || sub.PlanID != plan.ID {
		t.Fatalf("subscription: %v %+v", err, sub)
	}
	r = c.get(page)
	admWantBody(t, r, "Plan Team activated until", "90 days credited.", `data-testid="plan-name"><bdi>Team</bdi><`, ">Active<",
		"0 of 3 in use", formatTime(&sub.CurrentPeriodEnd), `data-testid="balance">90<`, "Plan credit", "+90")

	// The same plan again is refused, with a message.
	c.submit(page, page+"/subscription", url.Values{"plan_id": {planID}})
	admWantBody(t, c.get(page), "The customer is already on this plan: renew it instead.")
	c.submit(page, page+"/subscription", url.Values{"plan_id": {"nope"}})
	admWantBody(t, c.get(page), "Choose a plan.")
	if b := f.user(cust.ID).DayBalance; b != 90 {
		t.Fatalf("refused activations changed the balance to %d", b)
	}

	// Renew: the next period, and its days.
	admWantStatus(t, c.submit(page, page+"/subscription/renew", nil), http.StatusSeeOther)
	if b := f.user(cust.ID).DayBalance; b != 180 {
		t.Fatalf("balance %d after renewal, want 180", b)
	}
	renewed, _ := f.a.store.ActiveSubscription(ctx, cust.ID)
	if want := sub.CurrentPeriodEnd.Add(30 * 24 * time.Hour); !renewed.CurrentPeriodEnd.Equal(want) {
		t.Fatalf("period ends %v after renewal, want %v", renewed.CurrentPeriodEnd, want)
	}
	if l := f.ledger(cust.ID); len(l) != 2 || l[0].Kind != models.LedgerPlanCredit || l[0].Delta != 90 {
		t.Fatalf("ledger after renewal: %+v", l)
	}
	admWantBody(t, c.get(page), "Plan Team renewed until "+formatTime(&renewed.CurrentPeriodEnd))

	// Cancel: a confirmation first; the balance stays.
	r = c.get(page + "/subscription/cancel")
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, "Cancel cust@example.com’s plan?", "cannot add new channels", "keep the days they have")
	admWantStatus(t, c.submit(page+"/subscription/cancel", page+"/subscription/cancel", nil), http.StatusSeeOther)
	if _, err := f.a.store.ActiveSubscription(ctx, cust.ID); err == nil {
		t.Fatal("the subscription is still active after cancel")
	}
	r = c.get(page)
	admWantBody(t, r, "The plan is cancelled", "No active plan.", "Last plan: <bdi>Team</bdi>", `data-testid="balance">180<`)
	c.submit(page, page+"/subscription/renew", nil)
	admWantBody(t, c.get(page), "There is no active plan")
	if b := f.user(cust.ID).DayBalance; b != 180 {
		t.Fatalf("balance %d after cancel and a refused renewal, want 180", b)
	}
	// With nothing to cancel, the confirmation page sends back.
	admWantStatus(t, c.get(page+"/subscription/cancel"), http.StatusSeeOther)
}

func TestAdminCreditDaysNeedsAComment(t *testing.T) {
	f := newAdmFix(t)
	c := f.c
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	page := userPath(cust.ID)

	for _, tt := range []struct {
		days, comment string
		fields        []string
	}{
		{"10", "  ", []string{"comment"}},
		{"abc", "", []string{"days", "comment"}},
		{"0", "why", []string{"days"}},
		{"", "why", []string{"days"}},
	} {
		r := c.submit(page, page+"/days", url.Values{"days": {tt.days}, "comment": {tt.comment}})
		admWantStatus(t, r, http.StatusUnprocessableEntity)
		admWantBody(t, r, "Nothing was changed")
		for _, fld := range tt.fields {
			admWantBody(t, r, `data-testid="error-`+fld+`"`)
		}
		if tt.days != "" {
			admWantBody(t, r, `id="credit-days" name="days" type="number" min="1" inputmode="numeric" value="`+tt.days+`"`)
		}
	}
	if b := f.user(cust.ID).DayBalance; b != 0 || len(f.ledger(cust.ID)) != 0 {
		t.Fatalf("refused credits moved days: balance %d", b)
	}

	admWantStatus(t, c.submit(page, page+"/days", url.Values{"days": {"15"}, "comment": {"goodwill for the outage"}}), http.StatusSeeOther)
	if b := f.user(cust.ID).DayBalance; b != 15 {
		t.Fatalf("balance %d, want 15", b)
	}
	l := f.ledger(cust.ID)
	if len(l) != 1 || l[0].Kind != models.LedgerAdminCredit || l[0].Delta != 15 || l[0].Comment != "goodwill for the outage" {
		t.Fatalf("ledger: %+v", l)
	}
	admWantBody(t, c.get(page), "15 days credited. Balance: 15 days.", "Credited by an admin", "goodwill for the outage")
}

// An extend on the customer's page that WHAPI refuses because the channel
// was extended moments ago tells the admin when to try again, moves no day
// and raises no partner-balance warning; at that time it goes through.
func TestExtendFromUserPageWithinTheCoolDown(t *testing.T) {
	f := newAdmFix(t, func(o *appOptions) { o.manualClock = true })
	ctx := context.Background()
	f.configureToken()
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	if _, err := f.a.store.ActivatePlan(ctx, models.SystemActor, cust.ID, f.plan("Duo", 2, 30, 30).ID); err != nil {
		t.Fatal(err)
	}
	ch := f.createChannel(cust.ID, "Sales line")
	page := userPath(cust.ID)
	extend := func(comment string) string {
		t.Helper()
		r := f.c.submit(page, page+"/channels/"+strconv.FormatInt(ch.ID, 10)+"/extend", url.Values{"days": {"10"}, "comment": {comment}})
		admWantStatus(t, r, http.StatusSeeOther)
		return listFlash(f.c.get(page).body)
	}
	if flash := extend("first month"); !strings.HasPrefix(flash, "success: ") {
		t.Fatalf("flash %q", flash)
	}
	f.a.clock.Advance(90 * time.Second)
	// Shown to the minute, rounded up: never a time it is still refused.
	at := f.a.clock.Now().Add(3*time.Minute + 30*time.Second + time.Minute - 1).UTC().Format("2 Jan 2006 15:04 UTC")
	want := fmt.Sprintf("warning: Channel “Sales line” (#%d) was not extended: WHAPI takes one extend of a channel every few minutes, "+
		"and this one was extended moments ago. Try again after %s (in 4 minutes). No day was moved; the partner balance is not the problem.", ch.ID, at)
	if flash := extend("second month"); flash != want {
		t.Fatalf("flash %q,\nwant  %q", flash, want)
	}
	if b := f.user(cust.ID).DayBalance; b != 50 || f.channel(ch.ID).DaysAllocated != 10 {
		t.Fatalf("balance %d, allocated %d after an extend refused as too soon", b, f.channel(ch.ID).DaysAllocated)
	}
	if st, _ := f.a.store.Settings(ctx); st.PartnerShortAt != nil {
		t.Fatal("the cool-down raised the partner-balance warning")
	}
	f.a.clock.Advance(3*time.Minute + 30*time.Second)
	if flash := extend("second month"); !strings.HasPrefix(flash, "success: Channel Sales line extended by 10 days") {
		t.Fatalf("flash %q", flash)
	}
	if b := f.user(cust.ID).DayBalance; b != 40 {
		t.Fatalf("balance %d, want 40", b)
	}
}

func TestAdminExtendAndDeleteFromUserPage(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	c := f.c
	f.configureToken()
	plan := f.plan("Duo", 2, 30, 30)
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	other := f.a.newUser(models.RoleCustomer, "other@example.com")
	for _, u := range []*models.User{cust, other} {
		if _, err := f.a.store.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
			t.Fatal(err)
		}
	}
	ch := f.createChannel(cust.ID, "Sales line")
	foreign := f.createChannel(other.ID, "Other line")
	if ch.Status != models.ChannelTrial || ch.DaysAllocated != 0 {
		t.Fatalf("new channel of a manual customer: %+v", ch)
	}
	page := userPath(cust.ID)
	chPath := page + "/channels/" + strconv.FormatInt(ch.ID, 10)

	r := c.get(page)
	admWantBody(t, r, "Sales line", "Free trial", "1 of 2 in use", "60 days available.", `action="`+chPath+`/extend"`)
	if strings.Contains(r.body, "Other line") {
		t.Fatal("the page shows another customer's channel")
	}

	before := f.extends()
	r = c.submit(page, chPath+"/extend", url.Values{"days": {"10"}, "comment": {""}})
	admWantStatus(t, r, http.StatusUnprocessableEntity)
	admWantBody(t, r, `id="ch`+strconv.FormatInt(ch.ID, 10)+`-comment-error"`, `value="10"`)
	if f.extends() != before || f.user(cust.ID).DayBalance != 60 {
		t.Fatal("a refused extend reached WHAPI or moved days")
	}

	admWantStatus(t, c.submit(page, chPath+"/extend", url.Values{"days": {"10"}, "comment": {"first month"}}), http.StatusSeeOther)
	if got := f.extends(); got != before+1 {
		t.Fatalf("the simulator received %d extends, want %d", got, before+1)
	}
	if b := f.user(cust.ID).DayBalance; b != 50 {
		t.Fatalf("balance %d after extending by 10, want 50", b)
	}
	if got := f.channel(ch.ID); got.DaysAllocated != 10 {
		t.Fatalf("days allocated %d, want 10", got.DaysAllocated)
	}
	if l := f.ledger(cust.ID); l[0].Kind != models.LedgerAllocation || l[0].Delta != -10 || l[0].Comment != "first month" {
		t.Fatalf("ledger: %+v", l[0])
	}
	r = c.get(page)
	admWantBody(t, r, "Channel Sales line extended by 10 days: active till", "Given to a channel", "−10", "first month")

	// More than the balance: refused in plain words next to the days
	// field, which keeps what was typed; nothing moves.
	r = c.submit(page, chPath+"/extend", url.Values{"days": {"51"}, "comment": {"too much"}})
	admWantStatus(t, r, http.StatusUnprocessableEntity)
	admWantBody(t, r, "Nothing was changed: correct the fields marked below.", `value="51"`, `aria-invalid="true"`,
		`data-testid="error-days">cust@example.com has only 50 days left (you asked for 51). Credit days on the customer&#39;s page first.`)
	if f.extends() != before+1 || f.user(cust.ID).DayBalance != 50 {
		t.Fatal("an extend beyond the balance moved days or reached WHAPI")
	}

	// Another customer's channel under this customer's address: 404.
	wrong := page + "/channels/" + strconv.FormatInt(foreign.ID, 10)
	admWantStatus(t, c.submit(page, wrong+"/extend", url.Values{"days": {"1"}, "comment": {"x"}}), http.StatusNotFound)
	admWantStatus(t, c.get(wrong+"/delete"), http.StatusNotFound)
	admWantStatus(t, c.submit(page, wrong+"/delete", nil), http.StatusNotFound)
	if f.channel(foreign.ID).Status != models.ChannelTrial || f.extends() != before+1 {
		t.Fatal("another customer's channel was touched")
	}

	// Delete: the confirmation says how many days come back; they do.
	r = c.get(chPath + "/delete")
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, "Delete channel Sales line?", "10 unused days</strong> will return to the balance")
	admWantStatus(t, c.submit(chPath+"/delete", chPath+"/delete", nil), http.StatusSeeOther)
	if b := f.user(cust.ID).DayBalance; b != 60 {
		t.Fatalf("balance %d after deleting, want 60", b)
	}
	if st := f.channel(ch.ID).Status; st != models.ChannelDeleted {
		t.Fatalf("channel status %s after delete", st)
	}
	if l := f.ledger(cust.ID); l[0].Kind != models.LedgerRefund || l[0].Delta != 10 {
		t.Fatalf("ledger: %+v", l[0])
	}
	r = c.get(page)
	admWantBody(t, r, "Channel Sales line deleted: 10 unused days returned to the balance.", "Returned by a deleted channel", "0 of 2 in use")
	// A deleted channel cannot be deleted again.
	admWantStatus(t, c.get(chPath+"/delete"), http.StatusSeeOther)
}

func TestAdminDisableEnableUser(t *testing.T) {
	f := newAdmFix(t)
	c := f.c
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	cc := f.a.client()
	cc.login("cust@example.com")
	page := userPath(cust.ID)

	r := c.get(page + "/disable")
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, "Disable cust@example.com?", "signed out at once")
	admWantStatus(t, c.submit(page+"/disable", page+"/disable", nil), http.StatusSeeOther)
	if !f.user(cust.ID).Disabled {
		t.Fatal("not disabled")
	}
	admWantBody(t, c.get(page), "is disabled and signed out everywhere", `data-testid="user-status">Disabled<`)
	if r := cc.get("/app"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("the disabled customer's session still works: %d", r.StatusCode)
	}
	admWantStatus(t, c.submit(page, page+"/enable", nil), http.StatusSeeOther)
	if f.user(cust.ID).Disabled {
		t.Fatal("still disabled")
	}
	// An admin cannot lock themselves out.
	me := userPath(f.admin.ID)
	c.submit(me, me+"/disable", nil)
	admWantBody(t, c.get(me), "You cannot disable your own account.")
	if f.user(f.admin.ID).Disabled {
		t.Fatal("the admin disabled their own account")
	}
}

// admRoutes are the pages and forms of the admin's plans, customers and audit log.
func admRoutes(userID, channelID, planID int64) (gets, posts []string) {
	u := userPath(userID)
	ch := u + "/channels/" + strconv.FormatInt(channelID, 10)
	p := "/admin/plans/" + strconv.FormatInt(planID, 10)
	gets = []string{"/admin/plans", p + "/edit", p + "/retire", "/admin/users", u, u + "/subscription/cancel", u + "/disable",
		ch + "/delete", "/admin/audit"}
	posts = []string{"/admin/plans", p, p + "/retire", p + "/reinstate", "/admin/users", u + "/mode", u + "/subscription",
		u + "/subscription/renew", u + "/subscription/cancel", u + "/days", u + "/disable", u + "/enable", ch + "/extend", ch + "/delete"}
	return gets, posts
}

func TestAdminUserPagesForbidCustomersAndNeedCSRF(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	f.configureToken()
	plan := f.plan("Solo", 1, 30, 30)
	cust := f.a.newUser(models.RoleCustomer, "cust@example.com")
	if _, err := f.a.store.ActivatePlan(ctx, models.SystemActor, cust.ID, plan.ID); err != nil {
		t.Fatal(err)
	}
	ch := f.createChannel(cust.ID, "Mine")
	gets, posts := admRoutes(cust.ID, ch.ID, plan.ID)

	cc := f.a.client()
	cc.login("cust@example.com")
	tok := cc.csrf("/admin/users") // the 403 page carries the customer's own token
	for _, path := range gets {
		if r := cc.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("customer GET %s: %d, want 403", path, r.StatusCode)
		}
	}
	form := url.Values{"_csrf": {tok}, "mode": {"auto"}, "plan_id": {strconv.FormatInt(plan.ID, 10)}, "days": {"5"}, "comment": {"x"},
		"name": {"X"}, "max_channels": {"9"}, "days_per_period": {"9"}, "period_days": {"9"}, "email": {"z@example.com"}, "password": {testPassword}, "role": {"admin"}}
	for _, path := range posts {
		if r := cc.postForm(path, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("customer POST %s: %d, want 403", path, r.StatusCode)
		}
	}

	// The admin without the CSRF token: refused, nothing changed.
	for _, path := range posts {
		if r := f.c.postForm(path, url.Values{"mode": {"auto"}, "days": {"5"}, "comment": {"x"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("admin POST %s without CSRF token: %d, want 403", path, r.StatusCode)
		}
	}
	u := f.user(cust.ID)
	if u.AllocationMode != models.AllocationManual || u.DayBalance != 30 || u.Disabled {
		t.Fatalf("refused posts changed the customer: %+v", u)
	}
	if _, err := f.a.store.UserByEmail(ctx, "z@example.com"); err == nil {
		t.Fatal("a refused post created a user")
	}
	if p, _ := f.a.store.PlanByID(ctx, plan.ID); !p.Active || p.MaxChannels != 1 {
		t.Fatalf("refused posts changed the plan: %+v", p)
	}
	if got := f.channel(ch.ID); got.Status != models.ChannelTrial || got.DaysAllocated != 0 || f.extends() != 0 {
		t.Fatalf("refused posts changed the channel: %+v", got)
	}
}

func TestAdminAuditLogPages(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	for i := range 60 {
		if err := f.a.store.RecordAudit(ctx, models.Actor{Email: "someone@example.com", IP: "192.0.2.7"}, "test.event",
			fmt.Sprintf("target-%02d", i), "detail"); err != nil {
			t.Fatal(err)
		}
	}
	total, err := f.a.store.CountAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile(`<tr><td class="small">`)
	r := f.c.get("/admin/audit")
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, fmt.Sprintf("1–50 of %d", total), "someone@example.com", "test.event", "192.0.2.7", `href="/admin/audit?page=2"`)
	if n := len(rowRE.FindAllString(r.body, -1)); n != 50 {
		t.Fatalf("%d rows on page 1, want 50", n)
	}
	if i, j := strings.Index(r.body, "target-59"), strings.Index(r.body, "target-58"); i < 0 || j < 0 || i > j {
		t.Fatal("the newest event is not first")
	}
	r = f.c.get("/admin/audit?page=2")
	if n := len(rowRE.FindAllString(r.body, -1)); int64(n) != total-50 {
		t.Fatalf("%d rows on page 2, want %d", n, total-50)
	}
	admWantBody(t, r, "target-00", `href="/admin/audit"`)
}

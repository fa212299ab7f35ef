package handlers

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// custFix is the whole app as newTestApp builds it, keeping what the
// customer-side tests need besides: the Echo router (its route list), the
// provision service, and optionally a manual clock shared by the
// simulator and the service. The partner token is saved and a
// plan ("Starter", 3 channels unless told) exists.
type custFix struct {
	*testApp
	plan *models.Plan
	// walkChannel is the channel a walk over the routes uses.
	walkChannel *models.Channel
	// walkHome is the page a walk takes its CSRF token from ("" = /app).
	walkHome string
}

type custOptions struct {
	appOptions
	maxChannels int64 // of the plan; 0 means 3
}

func newCustFix(t *testing.T, opts ...func(*custOptions)) *custFix {
	t.Helper()
	o := custOptions{appOptions: defaultAppOptions(), maxChannels: 3}
	o.sim.StartupDelay = -1 // a QR at once, unless a test wants to wait
	for _, fn := range opts {
		fn(&o)
	}
	f := &custFix{testApp: newTestApp(t, func(a *appOptions) { *a = o.appOptions })}
	ctx := context.Background()
	tok, err := provision.NormalizePartnerToken(f.partnerToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.UpdateSettings(ctx, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		t.Fatal(err)
	}
	if f.plan, err = f.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Starter", MaxChannels: o.maxChannels, DaysPerPeriod: 30, PeriodDays: 30}); err != nil {
		t.Fatal(err)
	}
	return f
}

// customer creates a customer, on the plan when withPlan (90 days credited).
func (f *custFix) customer(email string, withPlan bool) *models.User {
	f.t.Helper()
	u := f.newUser(models.RoleCustomer, email)
	if withPlan {
		if _, err := f.svc.ActivatePlan(context.Background(), models.SystemActor, u.ID, f.plan.ID); err != nil {
			f.t.Fatal(err)
		}
	}
	return f.reloadUser(u)
}

func (f *custFix) reloadUser(u *models.User) *models.User {
	f.t.Helper()
	u, err := f.store.UserByID(context.Background(), u.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// signedIn returns a client signed in as email.
func (f *custFix) signedIn(email string) *testClient {
	f.t.Helper()
	c := f.client()
	c.login(email)
	return c
}

// channel creates a channel for u the way the app does.
func (f *custFix) channel(u *models.User, name string) *models.Channel {
	f.t.Helper()
	ch, err := f.svc.CreateChannel(context.Background(), models.SystemActor, provision.CreateInput{UserID: u.ID, Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

func (f *custFix) reload(ch *models.Channel) *models.Channel {
	f.t.Helper()
	ch, err := f.store.ChannelByID(context.Background(), ch.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

// link links a phone to the channel at the simulator, as a scan would.
func (f *custFix) link(ch *models.Channel, phone string) {
	f.t.Helper()
	if err := f.sim.LinkChannel(f.reload(ch).RemoteID(), phone); err != nil {
		f.t.Fatal(err)
	}
}

// advance moves the manual clock.
func (f *custFix) advance(d time.Duration) {
	f.t.Helper()
	if f.clock == nil {
		f.t.Fatal("advance needs the manual clock")
	}
	f.clock.Advance(d)
}

// custWant fails unless r has the status.
func custWant(t *testing.T, r result, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d:\n%s", r.Request.Method, r.Request.URL.RequestURI(), r.StatusCode, status, r.body)
	}
}

// custText is the page's visible text, tags removed, blanks squeezed.
func custText(body string) string {
	body = regexp.MustCompile(`(?s)<head>.*?</head>|<[^>]*>`).ReplaceAllString(body, " ")
	// The invisible isolates around a name (i18n.Isolate) are not words.
	body = withoutIsolates(html.UnescapeString(body))
	return strings.Join(strings.Fields(body), " ")
}

// custHas fails unless the page's text holds every part.
func custHas(t *testing.T, body string, parts ...string) {
	t.Helper()
	text := custText(body)
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Fatalf("the page does not say %q; it says:\n%s", p, text)
		}
	}
}

func custHasNot(t *testing.T, body string, parts ...string) {
	t.Helper()
	text := custText(body)
	for _, p := range parts {
		if strings.Contains(text, p) {
			t.Fatalf("the page says %q, and should not:\n%s", p, text)
		}
	}
}

// custFlash follows a 303 to want and returns the text of its flash.
func custFlash(t *testing.T, c *testClient, r result, want string) string {
	t.Helper()
	custWant(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != want {
		t.Fatalf("redirect to %q, want %q", loc, want)
	}
	page := c.get(want).body
	m := regexp.MustCompile(`(?s)<div id="flash"[^>]*>(.*?)</div>\s*</div>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return custText(m[1])
}

// custCards splits the dashboard into its channel cards, by channel name.
func custCards(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<article[^>]*data-testid="channel"[^>]*>(.*?)</article>`).FindAllStringSubmatch(body, -1) {
		name := regexp.MustCompile(`<h3[^>]*>([^<]*)</h3>`).FindStringSubmatch(m[1])
		if name == nil {
			t.Fatalf("a channel card without a name: %s", m[1])
		}
		out[html.UnescapeString(name[1])] = custText(m[1])
	}
	return out
}

func TestCustomerDashboard(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	sales := f.channel(u, "Sales")
	support := f.channel(u, "Support")
	f.link(support, "15551234567")
	c := f.signedIn("alice@example.com")
	// The connect page notices the link (as it would with the page open).
	custWant(t, c.get(connectPath(support.ID, "")), http.StatusOK)

	r := c.get("/app")
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "My channels", "Starter", "2 of 3 channels", "90 days")
	cards := custCards(t, r.body)
	if len(cards) != 2 {
		t.Fatalf("cards: %v", cards)
	}
	// Trial channels: activeTill is 6 days away (the clock stands still).
	till := custDate(*f.reload(sales).ActiveTill)
	for name, want := range map[string][]string{
		"Sales":   {"Waiting for your phone", "6 days left", "until " + till, "Free trial", "Link your phone", "Delete…"},
		"Support": {"Connected", "+15551234567", "6 days left", "View connection"},
	} {
		for _, w := range want {
			if !strings.Contains(cards[name], w) {
				t.Errorf("card %q does not say %q: %s", name, w, cards[name])
			}
		}
	}
	// Both expire within 7 days: a banner each, saying what to do.
	banners := regexp.MustCompile(`data-testid="expiry-banner"`).FindAllString(r.body, -1)
	if len(banners) != 2 {
		t.Fatalf("%d expiry banners, want 2:\n%s", len(banners), custText(r.body))
	}
	custHas(t, r.body, "“Sales” expires in 6 days, on "+till+". Ask LinkDesk to add days before then.")
	// Nothing of WHAPI: not its name, not a channel id.
	for _, ch := range f.sim.Channels() {
		if strings.Contains(r.body, ch.ID) || strings.Contains(r.body, ch.Token) {
			t.Fatal("the dashboard shows a WHAPI channel id or token")
		}
	}
	if strings.Contains(strings.ToLower(r.body), "whapi") {
		t.Fatal("the dashboard names WHAPI")
	}

	t.Run("expired", func(t *testing.T) {
		f.advance(7 * 24 * time.Hour)
		r := c.get("/app")
		cards := custCards(t, r.body)
		if !strings.Contains(cards["Sales"], "Expired") || !strings.Contains(cards["Sales"], "Expired on "+till) {
			t.Fatalf("the expired card says: %s", cards["Sales"])
		}
		if strings.Contains(cards["Sales"], "Link your phone") {
			t.Fatal("an expired channel offers to link a phone")
		}
		custHas(t, r.body, "“Sales” has expired: it no longer sends or receives messages.")
		// Expired channels free their plan slot only once marked so; the
		// count follows the records.
		custHas(t, r.body, "of 3 channels")
	})
}

func TestCustomerDashboardAutoModeNoBanner(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("alice@example.com", true)
	if err := f.store.SetAllocationMode(context.Background(), models.SystemActor, u.ID, models.AllocationAuto); err != nil {
		t.Fatal(err)
	}
	f.channel(u, "Sales") // gets one period (30 days) at once
	c := f.signedIn("alice@example.com")
	r := c.get("/app")
	custHas(t, r.body, "1 of 3 channels", "60 days", "given to your channels automatically")
	if strings.Contains(r.body, `data-testid="expiry-banner"`) {
		t.Fatalf("a banner for a channel with 36 days left:\n%s", custText(r.body))
	}
	if card := custCards(t, r.body)["Sales"]; !strings.Contains(card, "35 days left") {
		t.Fatalf("card: %s", card)
	}
}

func TestCustomerWithoutPlan(t *testing.T) {
	f := newCustFix(t)
	f.customer("alice@example.com", false)
	c := f.signedIn("alice@example.com")
	r := c.get("/app")
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "You have no active plan yet, so you cannot add a WhatsApp channel.", "You have no channels yet.")
	if strings.Contains(r.body, `action="/app/channels"`) {
		t.Fatal("the create form shows without a plan")
	}
	// Posting anyway is refused in plain words, and nothing reaches WHAPI.
	flash := custFlash(t, c, c.submit("/app", "/app/channels", url.Values{"name": {"Sales"}}), "/app")
	if !strings.Contains(flash, "You have no active plan") {
		t.Fatalf("flash: %q", flash)
	}
	if n := f.sim.CountRequests("PUT", "/channels"); n != 0 {
		t.Fatalf("%d creates reached the simulator", n)
	}
}

func TestCustomerCreatesChannel(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("alice@example.com", true)
	c := f.signedIn("alice@example.com")

	t.Run("field errors are shown next to the fields", func(t *testing.T) {
		r := c.submit("/app", "/app/channels", url.Values{"name": {"  "}, "phone": {"12ab"}})
		custWant(t, r, http.StatusUnprocessableEntity)
		for _, id := range []string{"error-name", "error-phone"} {
			if !strings.Contains(r.body, `data-testid="`+id+`"`) {
				t.Errorf("no %s on the page", id)
			}
		}
		custHas(t, r.body, "The channel was not added")
		if !strings.Contains(r.body, `value="12ab"`) {
			t.Fatal("the phone typed is not kept")
		}
		if n := len(f.sim.Channels()); n != 0 {
			t.Fatalf("%d channels at the simulator", n)
		}
	})

	t.Run("created for the signed-in customer, then on to linking", func(t *testing.T) {
		r := c.submit("/app", "/app/channels", url.Values{"name": {"Sales"}, "phone": {"+44 7700 900123"}})
		custWant(t, r, http.StatusSeeOther)
		chans, err := f.store.ChannelsByUser(context.Background(), u.ID)
		if err != nil || len(chans) != 1 {
			t.Fatalf("channels of the customer: %v %v", chans, err)
		}
		ch := chans[0]
		if ch.Name != "Sales" || ch.Phone != "447700900123" || ch.Status != models.ChannelTrial {
			t.Fatalf("channel: %+v", ch)
		}
		if loc := r.Header.Get("Location"); loc != connectPath(ch.ID, "") {
			t.Fatalf("redirect to %q", loc)
		}
		page := c.get(connectPath(ch.ID, ""))
		custHas(t, page.body, "“Sales” is ready. Link your phone to start using it.")
	})

	t.Run("HTMX: a full navigation to the connect page", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/app/channels", strings.NewReader(url.Values{
			"name": {"Support"}, "_csrf": {c.csrf("/app")}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		r := c.do(req)
		custWant(t, r, http.StatusOK)
		if !regexp.MustCompile(`^/app/channels/\d+/connect$`).MatchString(r.Header.Get("HX-Redirect")) {
			t.Fatalf("HX-Redirect %q", r.Header.Get("HX-Redirect"))
		}
	})

	t.Run("at the plan's limit the button is off, with the reason", func(t *testing.T) {
		f.channel(u, "Third")
		r := c.get("/app")
		custHas(t, r.body, "3 of 3 channels", "All 3 channels of your plan are in use.")
		if !regexp.MustCompile(`<button class="btn btn-primary" type="submit" disabled aria-describedby="create-blocked"`).MatchString(r.body) {
			t.Fatal("the create button is not disabled")
		}
		before := f.sim.CountRequests("PUT", "/channels")
		flash := custFlash(t, c, c.submit("/app", "/app/channels", url.Values{"name": {"Fourth"}}), "/app")
		if !strings.Contains(flash, "All channels of your plan are in use") {
			t.Fatalf("flash: %q", flash)
		}
		if f.sim.CountRequests("PUT", "/channels") != before {
			t.Fatal("a create past the limit reached the simulator")
		}
	})
}

func TestCustomerCreateFailsUpstream(t *testing.T) {
	f := newCustFix(t)
	f.customer("alice@example.com", true)
	c := f.signedIn("alice@example.com")
	f.sim.InjectFault(whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultStatus, Status: 400})
	r := c.submit("/app", "/app/channels", url.Values{"name": {"Sales"}})
	flash := custFlash(t, c, r, "/app")
	if !strings.Contains(flash, "could not be set up just now, and nothing was charged") {
		t.Fatalf("flash: %q", flash)
	}
	page := c.get("/app").body
	if strings.Contains(strings.ToLower(page), "whapi") || strings.Contains(page, "refused") {
		t.Fatal("the page shows upstream details")
	}
	custHas(t, page, "0 of 3 channels")
}

func TestCustomerDeletesChannel(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	// 10 paid days: they come back on delete (the trial days do not).
	if _, err := f.svc.Extend(context.Background(), models.SystemActor, provision.ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "test"}); err != nil {
		t.Fatal(err)
	}
	c := f.signedIn("alice@example.com")
	before := f.reloadUser(u).DayBalance

	open := custShown(t, c.get(connectPath(ch.ID, "")).body) // a connect page left open
	r := c.get(custChannelPath(ch.ID, "/delete"))
	custWant(t, r, http.StatusOK)
	unused := f.svc.View(f.reload(ch)).UnusedDays
	if unused < 9 {
		t.Fatalf("preview %d", unused)
	}
	custHas(t, r.body, "Delete “Sales”?", countOf(unused, "day", "days")+" not used yet will return to your balance")

	flash := custFlash(t, c, c.submit(custChannelPath(ch.ID, "/delete"), custChannelPath(ch.ID, "/delete"), nil), "/app")
	if !strings.Contains(flash, "“Sales” was deleted. "+countOf(unused, "day", "days")+" returned to your balance.") {
		t.Fatalf("flash: %q", flash)
	}
	if got := f.reloadUser(u).DayBalance; got != before+unused {
		t.Fatalf("balance %d, want %d + %d", got, before, unused)
	}
	if st, _ := f.sim.Channel(f.reload(ch).RemoteID()); !st.Deleted {
		t.Fatal("the channel is not deleted at the simulator")
	}
	custWant(t, c.get(custChannelPath(ch.ID, "/delete")), http.StatusNotFound)
	custWant(t, c.get(connectPath(ch.ID, "")), http.StatusNotFound)
	// The page left open is told, and stops polling.
	if _, gone := open.pollFrom(t, c); gone.step != "gone" || gone.poll != "" || gone.announce != "This channel no longer exists." {
		t.Fatalf("the open page after the delete: %+v", gone)
	}
	custHas(t, c.get("/app").body, "0 of 3 channels", "You have no channels yet.")
}

func custChannelPath(id int64, suffix string) string {
	return "/app/channels/" + strconv.FormatInt(id, 10) + suffix
}

func TestCustomerChannelStates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		ch         models.Channel
		state      string
		left, till string
	}{
		{models.Channel{Status: models.ChannelPending}, "preparing", "No days yet", ""},
		{models.Channel{Status: models.ChannelTrial, ActiveTill: at(6 * 24 * time.Hour)}, "waiting", "6 days left", "until 7 Mar 2026"},
		{models.Channel{Status: models.ChannelActive, Linked: true, ActiveTill: at(30*time.Hour + time.Minute)}, "connected", "1 day left", "until 2 Mar 2026"},
		{models.Channel{Status: models.ChannelActive, ActiveTill: at(3 * time.Hour)}, "waiting", "Less than a day left", "until 1 Mar 2026"},
		{models.Channel{Status: models.ChannelActive, Linked: true, ActiveTill: at(-time.Hour)}, "expired", "Expired on 1 Mar 2026", ""},
		{models.Channel{Status: models.ChannelExpired, ActiveTill: at(-48 * time.Hour)}, "expired", "Expired on 27 Feb 2026", ""},
		{models.Channel{Status: models.ChannelDeleting, ActiveTill: at(48 * time.Hour)}, "deleting", "2 days left", "until 3 Mar 2026"},
	} {
		v := provision.ViewAt(&tc.ch, now)
		if got := string(v.Phase); got != tc.state {
			t.Errorf("%s linked=%v: state %q, want %q", tc.ch.Status, tc.ch.Linked, got, tc.state)
		}
		if left, till := custDaysLeft(i18n.For("en"), v, now); left != tc.left || till != tc.till {
			t.Errorf("%s: %q %q, want %q %q", tc.ch.Status, left, till, tc.left, tc.till)
		}
	}
}

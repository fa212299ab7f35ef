package handlers

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
)

// dashFix is an app with the partner token configured, an admin signed in,
// a plan, and a provision service of the test's own pointed at the
// simulator, to set up channels the way the app makes them.
type dashFix struct {
	t    *testing.T
	a    *testApp
	c    *testClient // the admin
	svc  *provision.Service
	plan *models.Plan
}

// dashPlanChannels is the plan's channel limit: enough for pagination.
const dashPlanChannels = 60

func newDashFix(t *testing.T, opts ...func(*appOptions)) *dashFix {
	t.Helper()
	a, c := adminClient(t, opts...)
	ctx := context.Background()
	tok, err := provision.NormalizePartnerToken("Bearer " + a.partnerToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.store.UpdateSettings(ctx, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		t.Fatal(err)
	}
	plan, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Team", MaxChannels: dashPlanChannels, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	return &dashFix{t: t, a: a, c: c, svc: a.svc, plan: plan}
}

// admin is the actor of the fixture's own changes.
var dashActor = models.Actor{Email: "setup@example.com"}

// customer creates a customer on the plan: 30 days × 60 channels credited.
func (f *dashFix) customer(email string) *models.User {
	f.t.Helper()
	u := f.a.newUser(models.RoleCustomer, email)
	if _, err := f.a.store.ActivatePlan(context.Background(), dashActor, u.ID, f.plan.ID); err != nil {
		f.t.Fatal(err)
	}
	return f.user(u.ID)
}

// dashCredit is what activating the fixture's plan credits.
const dashCredit = 30 * dashPlanChannels

func (f *dashFix) user(id int64) *models.User {
	f.t.Helper()
	u, err := f.a.store.UserByID(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// channel creates a channel at the simulator for u.
func (f *dashFix) channel(u *models.User, name string) *models.Channel {
	f.t.Helper()
	ch, err := f.svc.CreateChannel(context.Background(), dashActor, provision.CreateInput{UserID: u.ID, Name: name})
	if err != nil {
		f.t.Fatalf("create channel %s: %v", name, err)
	}
	return ch
}

func (f *dashFix) extend(ch *models.Channel, days int64) {
	f.t.Helper()
	if _, err := f.svc.Extend(context.Background(), dashActor, provision.ExtendInput{ChannelID: ch.ID, Days: days, Comment: "setup"}); err != nil {
		f.t.Fatalf("extend channel %d: %v", ch.ID, err)
	}
}

func (f *dashFix) reload(ch *models.Channel) *models.Channel {
	f.t.Helper()
	got, err := f.a.store.ChannelByID(context.Background(), ch.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// deleteAtWHAPI deletes a channel at the simulator directly, as if someone
// did it outside whapidesk.
func (f *dashFix) deleteAtWHAPI(ch *models.Channel) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, f.a.simURL+"/channels/"+ch.RemoteID(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.a.partnerToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		f.t.Fatalf("DELETE at the simulator: %d", res.StatusCode)
	}
}

func (f *dashFix) partnerEstimate() int64 {
	f.t.Helper()
	pb, err := f.a.store.PartnerBalance(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return pb.Estimate()
}

// testID returns the text of the element with data-testid=id (no nested
// tags), or fails.
func testID(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no element data-testid=%q on the page:\n%s", id, page)
	}
	return strings.TrimSpace(m[1])
}

// flashText is the flash message of a page ("" if none).
func flashText(page string) string {
	m := regexp.MustCompile(`(?s)<div id="flash"[^>]*>\s*(?:<div class="alert alert-(\w+)"[^>]*>([^<]*)</div>)?`).FindStringSubmatch(page)
	if m == nil || m[2] == "" {
		return ""
	}
	return m[1] + ": " + html.UnescapeString(m[2])
}

// followFlash expects a 303 to want and returns the flash of the page it
// leads to.
func (f *dashFix) followFlash(r result, want string) string {
	f.t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("status %d, want 303: %s", r.StatusCode, r.body)
	}
	if loc := r.Header.Get("Location"); loc != want {
		f.t.Fatalf("redirect to %q, want %q", loc, want)
	}
	return flashText(f.c.get(want).body)
}

func TestDashboardNumbers(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	alice, bob := f.customer("alice@example.com"), f.customer("bob@example.com")
	gone := f.channel(alice, "Support")
	paid := f.channel(alice, "Sales")
	f.channel(bob, "Shop")
	f.extend(gone, 10)
	f.extend(paid, 5)
	if _, err := f.svc.Delete(ctx, dashActor, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.a.store.RecordPartnerPurchase(ctx, dashActor, 100, "invoice 1"); err != nil {
		t.Fatal(err)
	}
	// A channel whose create is not confirmed yet.
	if _, _, err := f.a.store.ReserveChannel(ctx, dashActor, bob.ID, "Half", ""); err != nil {
		t.Fatal(err)
	}

	page := f.c.get("/admin")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("status %d", page.StatusCode)
	}
	for id, want := range map[string]string{
		"count-pending": "1", "count-trial": "1", "count-active": "1", "count-expired": "0", "count-deleting": "0", "count-failed": "0",
		// Numbers are written for the reader's language: English groups thousands.
		"days-credited": i18n.For("en").Number(2 * dashCredit), "days-allocated": "15", "days-returned": "10",
		"days-in-balances": i18n.For("en").Number(2*dashCredit - 15 + 10),
		"partner-estimate": "95 days",  // bought 100 − extended 15 + returned 10
		"verify-status":    "Verified", // the first create asked WHAPI whether it lists the project
	} {
		if got := testID(t, page.body, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if !strings.Contains(page.body, `href="/admin/channels?status=trial"`) {
		t.Error("the status counts do not link to the filtered channel list")
	}
	// Only the trial channel ends within 7 days (6 days: WHAPI adds a day
	// after the 5-day trial; the paid one has 5 more); its owner links to
	// their page.
	exp := page.body[strings.Index(page.body, `data-testid="expiring"`):]
	exp = exp[:strings.Index(exp, "</table>")]
	if !strings.Contains(exp, ">Shop</a>") || strings.Contains(exp, ">Sales</a>") || strings.Contains(exp, ">Support</a>") {
		t.Errorf("expiring list:\n%s", exp)
	}
	if !strings.Contains(exp, fmt.Sprintf(`href="/admin/users/%d">bob@example.com</a>`, bob.ID)) {
		t.Errorf("the owner does not link to the customer's page:\n%s", exp)
	}
	if !strings.Contains(exp, "5 days left") {
		t.Errorf("the expiring list does not say how long is left:\n%s", exp)
	}
	// Recent activity: the last audit events, newest first.
	act := page.body[strings.Index(page.body, `data-testid="activity"`):]
	act = act[strings.Index(act, "<tbody>"):strings.Index(act, "</tbody>")]
	rows := strings.Split(act, "<tr>")[1:]
	if len(rows) != 10 {
		t.Fatalf("recent activity has %d rows, want 10", len(rows))
	}
	if !strings.Contains(rows[0], "channel.create") || !strings.Contains(rows[0], "(Half)") || !strings.Contains(rows[1], "partner.days") {
		t.Errorf("recent activity is not the newest first:\n%s", act)
	}
	if !strings.Contains(page.body, "Asking WHAPI…") || !strings.Contains(page.body, `hx-post="/admin/sync"`) {
		t.Error("no Sync now button with its indicator")
	}
}

func TestDashboardPartnerWarnings(t *testing.T) {
	f := newDashFix(t)
	ctx := context.Background()
	threshold := int64(50)
	if _, _, err := f.a.store.UpdateSettings(ctx, dashActor, models.SettingsChange{LowBalanceThreshold: &threshold}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.store.RecordPartnerPurchase(ctx, dashActor, 40, "first days"); err != nil {
		t.Fatal(err)
	}
	page := f.c.get("/admin").body
	if got := testID(t, page, "partner-low"); !strings.Contains(got, "40 days, below the warning level of 50 days") {
		t.Fatalf("low-balance warning: %q", got)
	}
	if strings.Contains(page, `data-testid="partner-short"`) {
		t.Fatal("a short warning without a refused extend")
	}

	// WHAPI refused an extend for lack of partner days.
	short := time.Date(2030, 3, 4, 5, 6, 0, 0, time.UTC)
	if err := f.a.store.SetPartnerShort(ctx, &short); err != nil {
		t.Fatal(err)
	}
	page = f.c.get("/admin").body
	if got := testID(t, page, "partner-short"); !strings.Contains(got, "WHAPI refused an extend for lack of partner days on 4 Mar 2030 05:06 UTC") {
		t.Fatalf("short warning: %q", got)
	}

	// Recording days bought lifts both warnings.
	r := f.c.submit("/admin", "/admin/partner/days", url.Values{"kind": {"purchase"}, "days": {"20"}, "note": {"invoice 2"}})
	if flash := f.followFlash(r, "/admin"); !strings.Contains(flash, "Recorded 20 days bought from WHAPI. The estimated partner balance is now 60 days.") {
		t.Fatalf("flash: %q", flash)
	}
	page = f.c.get("/admin").body
	if strings.Contains(page, `data-testid="partner-low"`) || strings.Contains(page, `data-testid="partner-short"`) {
		t.Fatal("warnings still shown at 60 days with a threshold of 50")
	}
}

func TestSyncNow(t *testing.T) {
	t.Run("without a token", func(t *testing.T) {
		a, c := adminClient(t)
		r := c.submit("/admin", "/admin/sync", nil)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", r.StatusCode)
		}
		if flash := flashText(c.get("/admin").body); !strings.Contains(flash, "No partner token is saved, so there is nothing to sync") {
			t.Fatalf("flash %q", flash)
		}
		if n := len(a.sim.Requests()); n != 0 {
			t.Fatalf("%d requests reached WHAPI", n)
		}
	})

	f := newDashFix(t)
	ctx := context.Background()
	alice := f.customer("alice@example.com")
	kept := f.channel(alice, "Kept")
	gone := f.channel(alice, "Gone")
	f.extend(gone, 3)
	// An extend left half-done by a crash, 10 minutes ago: the days were
	// reserved and the call sent, but no answer was recorded.
	f.a.store.SetClock(func() time.Time { return time.Now().Add(-10 * time.Minute) })
	op, err := f.a.store.ReserveExtend(ctx, dashActor, kept.ID, 7, "lost in a crash")
	if err == nil {
		err = f.a.store.MarkSent(ctx, op.ID)
	}
	f.a.store.SetClock(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.user(alice.ID).DayBalance; got != dashCredit-3-7 {
		t.Fatalf("balance %d before the sync", got)
	}
	f.deleteAtWHAPI(gone) // deleted outside whapidesk: 3 unused days back

	syncStart := time.Now()
	r := f.c.submit("/admin", "/admin/sync", nil)
	flash := f.followFlash(r, "/admin")
	want := "success: Synced with WHAPI: 1 channel refreshed, 1 no longer at WHAPI (marked deleted, unused days returned), 1 unfinished change settled."
	if flash != want {
		t.Fatalf("flash %q, want %q", flash, want)
	}
	if got := f.reload(gone).Status; got != models.ChannelDeleted {
		t.Fatalf("gone channel is %s", got)
	}
	k := f.reload(kept)
	if k.LastSyncedAt == nil || k.LastSyncedAt.Before(syncStart) || k.DaysAllocated != 0 {
		t.Fatalf("kept channel not synced, or the lost extend was counted: %+v", k)
	}
	// The 7 reserved days came back (WHAPI never applied them), and the
	// gone channel's 3 unused days too.
	if got := f.user(alice.ID).DayBalance; got != dashCredit {
		t.Fatalf("balance %d after the sync, want %d", got, dashCredit)
	}
	if bad, err := f.a.store.CheckLedger(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("ledger: %v %+v", err, bad)
	}

	// A second run finds nothing left to settle.
	r = f.c.submit("/admin", "/admin/sync", nil)
	if flash := f.followFlash(r, "/admin"); flash != "success: Synced with WHAPI: 1 channel refreshed." {
		t.Fatalf("second sync: %q", flash)
	}
}

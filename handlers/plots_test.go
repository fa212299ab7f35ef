package handlers

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// plotsFix is a customer fixture whose twelve weeks have happened: channels
// made, extended and deleted through provision, week by week, on one
// manual clock that the store, the simulator and the service share (so the
// ledger's and the history's times are the weeks').
type plotsFix struct {
	*custFix
	alice *models.User
	chans map[string]*models.Channel
}

func newPlotsFix(t *testing.T) *plotsFix {
	t.Helper()
	f := &plotsFix{custFix: newCustFix(t, func(o *custOptions) { o.manualClock = true; o.maxChannels = 4 }), chans: map[string]*models.Channel{}}
	f.store.SetClock(f.clock.Now)
	ctx := context.Background()
	f.alice = f.customer("alice@example.com", true)
	if err := f.svc.CreditDays(ctx, models.SystemActor, f.alice.ID, 500, "plots"); err != nil {
		t.Fatal(err)
	}
	extend := func(name string, days int64) {
		t.Helper()
		if _, err := f.svc.Extend(ctx, models.SystemActor, provision.ExtendInput{ChannelID: f.chans[name].ID, Days: days, Comment: "plots"}); err != nil {
			t.Fatalf("extend %s: %v", name, err)
		}
	}
	week := func() {
		t.Helper()
		f.advance(7 * 24 * time.Hour)
		if _, err := f.svc.Reconcile(ctx); err != nil { // what the periodic job does
			t.Fatal(err)
		}
	}
	for w := range models.PlotWeeks {
		switch w {
		case 0:
			f.chans["Sales"] = f.channel(f.alice, "Sales")
			f.chans["Support"] = f.channel(f.alice, "Support")
			extend("Sales", 30)
		case 2:
			extend("Support", 60) // partly unused when it is deleted
		case 4:
			f.chans["Shop"] = f.channel(f.alice, "Shop")
			extend("Shop", 10)
		case 6:
			if _, err := f.svc.Delete(ctx, models.SystemActor, f.chans["Support"].ID); err != nil {
				t.Fatal(err)
			}
		case 8:
			extend("Sales", 40)
		case 10:
			f.chans["متجر"] = f.channel(f.alice, "متجر") // on its free trial
		}
		if w < models.PlotWeeks-1 {
			week()
		}
	}
	// Sessions keep real time (the fixture's manual clock is weeks ahead).
	f.store.SetClock(time.Now)
	return f
}

// plotTable reads a plot's table: each row's header and numbers, as shown.
func plotTable(t *testing.T, page, id string) [][]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<table[^>]*data-testid="` + id + `-table"[^>]*>.*?<tbody>(.*?)</tbody>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no table for %s", id)
	}
	var out [][]string
	for _, row := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(m[1], -1) {
		var cells []string
		for _, c := range regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`).FindAllStringSubmatch(row[1], -1) {
			cells = append(cells, html.UnescapeString(strings.TrimSpace(c[1])))
		}
		out = append(out, cells)
	}
	return out
}

// The admin dashboard draws its three plots as SVG with a title and a
// description, and each plot's table holds the numbers of the ledger and
// the history as the store sums them: twelve weeks of days allocated and
// returned, of channels by state, and thirty days of paid time ending.
func TestAdminDashboardPlotsShowTheLedgerAndTheHistory(t *testing.T) {
	f := newPlotsFix(t)
	ctx := context.Background()
	f.newUser(models.RoleAdmin, "admin@example.com")
	c := f.signedIn("admin@example.com")
	page := c.get("/admin")
	custWant(t, page, http.StatusOK)
	body := page.body

	for _, id := range []string{"plot-days", "plot-states", "plot-expiring"} {
		fig := regexp.MustCompile(`(?s)<figure class="plot" id="` + id + `".*?</figure>`).FindString(body)
		if fig == "" {
			t.Fatalf("no figure %s", id)
		}
		for _, want := range []string{`role="img"`, `aria-labelledby="` + id + `-title ` + id + `-desc"`, `<title id="` + id + `-title">`,
			`<desc id="` + id + `-desc">`, `viewBox="0 0 480 220"`, `<figcaption`, `<rect `} {
			if !strings.Contains(fig, want) {
				t.Errorf("%s lacks %s", id, want)
			}
		}
	}

	now := f.svc.Now()
	en := i18n.For("en")
	label := func(t time.Time) string { return dayMonth(en, t) }

	days, err := f.store.DaysByWeek(ctx, now, models.PlotWeeks)
	if err != nil {
		t.Fatal(err)
	}
	rows := plotTable(t, body, "plot-days")
	if len(rows) != models.PlotWeeks {
		t.Fatalf("%d weeks in the days table", len(rows))
	}
	var alloc, ret int64
	for i, w := range days {
		want := []string{label(w.Start), en.Number(w.Allocated), en.Number(w.Returned)}
		if fmt.Sprint(rows[i]) != fmt.Sprint(want) {
			t.Errorf("days, week %d: %v, want %v", i, rows[i], want)
		}
		alloc += w.Allocated
		ret += w.Returned
	}
	// What the fixture moved: 30 + 60 + 10 + 40 days extended, and the
	// unused days of Support back in week 6.
	if alloc != 140 || days[0].Allocated != 30 || days[8].Allocated != 40 || ret == 0 || days[6].Returned != ret {
		t.Errorf("the weeks do not hold the fixture's moves: %+v", days)
	}

	tot, err := f.store.DashboardTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	weeks, err := f.store.ChannelStatesByWeek(ctx, now, models.PlotWeeks, tot.Channels)
	if err != nil {
		t.Fatal(err)
	}
	rows = plotTable(t, body, "plot-states")
	states := provision.CountedStates()
	for i, w := range weeks {
		want := []string{label(w.Start)}
		var sum int64
		for _, st := range states {
			want = append(want, en.Number(w.Counts[st]))
			sum += w.Counts[st]
		}
		want = append(want, en.Number(sum))
		if fmt.Sprint(rows[i]) != fmt.Sprint(want) {
			t.Errorf("states, week %d: %v, want %v", i, rows[i], want)
		}
	}
	// This week's column is today's count: Sales, Shop and the trial.
	last := rows[len(rows)-1]
	if last[len(last)-1] != "3" {
		t.Errorf("channels counted this week: %v, want 3", last)
	}
	if first := rows[0]; first[len(first)-1] != "2" {
		t.Errorf("channels counted the first week: %v, want 2", first)
	}

	ending, err := f.store.ExpiringDays(ctx, now, 30)
	if err != nil {
		t.Fatal(err)
	}
	rows = plotTable(t, body, "plot-expiring")
	var sum int64
	for i, v := range ending {
		if rows[i][1] != en.Number(v) {
			t.Errorf("expiring, day %d: %v, want %d", i, rows[i], v)
		}
		sum += v
	}
	if sum == 0 {
		t.Error("no paid time ends in the next 30 days, though the trial channel's does")
	}
}

// The admin dashboard in Arabic: right to left, its words and the plots'
// from the catalog, numbers in Arabic-Indic digits; the sync's flash too.
func TestAdminDashboardInArabic(t *testing.T) {
	f := newCustFix(t)
	f.newUser(models.RoleAdmin, "admin@example.com")
	c := f.signedIn("admin@example.com")
	c.header.Set("Accept-Language", "ar")
	body := c.get("/admin").body
	for _, want := range []string{`<html lang="ar" dir="rtl">`, "<h1>لوحة المتابعة</h1>", "الأيام المخصّصة والمُعادة أسبوعيًا", "عرض الأرقام",
		"القنوات حسب الحالة", "الوقت المدفوع الذي ينتهي", "٠"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Arabic dashboard lacks %q", want)
		}
	}
	r := c.submit("/admin", "/admin/sync", nil)
	if flash := flashText(c.get(r.Header.Get("Location")).body); !strings.Contains(flash, "تمت المزامنة مع WHAPI") {
		t.Errorf("the sync's flash in Arabic: %q", flash)
	}
}

// The customer's dashboard in Arabic (the user's own language): right to
// left, a bar per channel named in an isolate with its days left in
// words, no WHAPI; and the flash after adding a channel in Arabic.
func TestCustomerDashboardInArabic(t *testing.T) {
	f := newCustFix(t)
	ctx := context.Background()
	u := f.customer("cust@example.com", true)
	if err := f.store.SetUserLanguage(ctx, models.SystemActor, u.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	f.channel(u, "Sales")
	c := f.signedIn("cust@example.com")
	r := c.submit("/app", "/app/channels", map[string][]string{"name": {"متجر"}})
	custWant(t, r, http.StatusSeeOther)
	page := c.get("/app").body
	if flash := custText(page); !strings.Contains(flash, "«متجر» جاهزة") {
		t.Errorf("the create flash is not Arabic: %s", flash)
	}
	for _, want := range []string{`<html lang="ar" dir="rtl">`, "<h1>قنواتي</h1>", "الأيام المتبقية لكل قناة", `<bdi>Sales</bdi>`, "<bdi>متجر</bdi>",
		`data-testid="days-left-bar"`, "أضف القناة"} {
		if !strings.Contains(page, want) {
			t.Errorf("the Arabic dashboard lacks %q", want)
		}
	}
	bars := regexp.MustCompile(`(?s)<li data-testid="days-left-bar">.*?</li>`).FindAllString(page, -1)
	if len(bars) != 2 || !strings.Contains(custText(bars[0]), "Sales") || !strings.Contains(custText(bars[0]), "بقي") {
		t.Errorf("the bars: %q", bars)
	}
	if strings.Contains(strings.ToLower(page), "whapi") {
		t.Error("the customer's page names WHAPI")
	}
}

// A channel still being prepared polls its own card, which answers the card
// as the channel is now: preparing (still polling) until it is settled,
// then waiting for the phone, and no longer polling.
func TestPreparingCardRefreshesItself(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	ctx := context.Background()
	u := f.customer("cust@example.com", true)
	ch := pendingChannel(t, f, u, "Slow")
	c := f.signedIn("cust@example.com")
	path := fmt.Sprintf("/app/channels/%d/card", ch.ID)
	card := c.get("/app").body
	if !strings.Contains(card, `hx-get="`+path+`"`) || !strings.Contains(card, `hx-trigger="every 3s"`) {
		t.Fatalf("the preparing card does not poll:\n%s", card)
	}
	r := c.get(path)
	custWant(t, r, http.StatusOK)
	if !strings.Contains(r.body, `hx-trigger="every 3s"`) || !strings.Contains(custText(r.body), "Preparing") {
		t.Fatalf("the card while preparing: %s", r.body)
	}
	settlePending(t, f)
	r = c.get(path)
	if strings.Contains(r.body, "hx-trigger") || !strings.Contains(custText(r.body), "Waiting for your phone") {
		t.Fatalf("the card once ready: %s", r.body)
	}
	_ = ctx
}

// pendingChannel makes a channel whose create WHAPI applied but whose
// answer was lost, and whose lookup failed: it stays pending ("Preparing")
// until Reconcile settles it.
func pendingChannel(t *testing.T, f *custFix, u *models.User, name string) *models.Channel {
	t.Helper()
	f.sim.InjectFault(whapisim.Fault{Method: "PUT", Path: "/channels", Kind: whapisim.FaultLostAfterApply})
	f.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/list", Kind: whapisim.FaultStatus, Status: 500, Times: 10})
	_, err := f.svc.CreateChannel(context.Background(), models.SystemActor, provision.CreateInput{UserID: u.ID, Name: name})
	if err == nil {
		t.Fatal("the create was confirmed; the test wants it pending")
	}
	chans, err2 := f.store.ChannelsByUser(context.Background(), u.ID)
	if err2 != nil {
		t.Fatal(err2)
	}
	for i := range chans {
		if chans[i].Name == name && chans[i].Status == models.ChannelPending {
			return &chans[i]
		}
	}
	t.Fatalf("no pending channel %q (create: %v)", name, err)
	return nil
}

// settlePending lets WHAPI answer lists again and runs Reconcile once the
// operation is old enough to settle (the service's SettleAfter, on the
// manual clock), as the periodic job would.
func settlePending(t *testing.T, f *custFix) {
	t.Helper()
	f.sim.ClearFaults()
	// The operation's time is the store's (real time); the service settles
	// what is older than SettleAfter on its manual clock.
	at := time.Now().UTC()
	if f.clock.Now().After(at) {
		at = f.clock.Now()
	}
	f.clock.Set(at.Add(f.svc.SettleAfter + time.Second))
	if rep, err := f.svc.Reconcile(context.Background()); err != nil || rep.Settled == 0 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
}

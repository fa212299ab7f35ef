package handlers

import (
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

// The confirmation pages of Restart, Stop and Start say why they cannot be
// done when the channel's state does not allow them, and offer no button.
func TestLineConfirmPagesSayWhyNot(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	// One channel made ten days back: expired by the time it is made here.
	start := f.clock.Now()
	f.clock.Set(start.Add(-10 * 24 * time.Hour))
	old := f.channel(u, "Old")
	f.clock.Set(start)
	ch := f.channel(u, "Sales")
	f.newUser(models.RoleAdmin, "admin@example.com")
	c := f.signedIn("admin@example.com")
	pageOf := func(ch *models.Channel, a string) string {
		t.Helper()
		r := c.get(adminChannelPath(ch.ID, a))
		custWant(t, r, 200)
		return r.body
	}
	page := func(a string) string { t.Helper(); return pageOf(ch, a) }
	if p := page("start"); !strings.Contains(p, "Its line is running already.") || strings.Contains(p, "Start the channel") {
		t.Fatalf("start of a running channel:\n%s", p)
	}
	if _, err := f.svc.Stop(t.Context(), models.SystemActor, ch.ID); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"restart", "stop"} {
		if p := page(a); !strings.Contains(p, "Its line is stopped: start it first.") || strings.Contains(p, `data-testid="line-effect"`) {
			t.Fatalf("%s of a stopped channel:\n%s", a, p)
		}
	}
	if p := page("start"); !strings.Contains(p, "Start the channel") || !strings.Contains(p, `data-testid="line-effect"`) {
		t.Fatalf("start of a stopped channel:\n%s", p)
	}
	if got := f.reload(old); got.Status != models.ChannelExpired {
		t.Fatalf("the old channel: %+v", got)
	}
	if p := pageOf(old, "stop"); !strings.Contains(p, "It cannot be stopped now: it is expired.") {
		t.Fatalf("stop of an expired channel:\n%s", p)
	}
	// Its days are over, though WHAPI has not said so yet.
	f.advance(8 * 24 * time.Hour)
	if p := page("start"); !strings.Contains(p, "Its days are over: extend it first.") {
		t.Fatalf("start of a stopped channel whose days ran out:\n%s", p)
	}
}

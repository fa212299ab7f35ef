package provision

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

// mails are the outbox's mails of kind, oldest first, with their bodies.
func (e *env) mails(kind string) []models.Mail {
	e.t.Helper()
	ms, _, err := e.store.Mails(e.ctx, 1000, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []models.Mail
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind != kind {
			continue
		}
		m, err := e.store.MailByID(e.ctx, ms[i].ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, *m)
	}
	return out
}

// unlink drops the channel's phone and lets a poll see it.
func (e *env) unlink(ch *models.Channel) {
	e.t.Helper()
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase == PhaseConnected {
		e.t.Fatalf("unlink: %+v %v", st, err)
	}
}

// relink links a phone again and lets a poll see it.
func (e *env) relink(ch *models.Channel) {
	e.t.Helper()
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseConnected {
		e.t.Fatalf("relink: %+v %v", st, err)
	}
}

func (e *env) alerts() LineAlertReport {
	e.t.Helper()
	rep, err := e.svc.DisconnectAlerts(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

// noWHAPIWords fails when a customer's mail names WHAPI or carries a
// channel's WHAPI id.
func (e *env) noWHAPIWords(m models.Mail, ch *models.Channel) {
	e.t.Helper()
	for _, part := range []string{m.Subject, m.Text, m.HTML} {
		low := strings.ToLower(part)
		if strings.Contains(low, "whapi") || strings.Contains(part, ch.RemoteID()) {
			e.t.Errorf("mail %q shows WHAPI:\n%s", m.Subject, part)
		}
	}
}

// A linked channel disconnected longer than the delay gets one alert to
// its owner, with a fresh connect link on the public address; not before
// the delay, not twice in 6 hours, and a reconnect takes it off the list.
func TestDisconnectAlertOnceAfterTheDelay(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPublicURL("https://desk.example.com")
	ch := e.linked("amal")
	if e.svc.DisconnectAlertAfter() != 5*time.Minute {
		t.Fatalf("default delay %s", e.svc.DisconnectAlertAfter())
	}
	e.unlink(ch)

	e.clock.Advance(4 * time.Minute)
	if rep := e.alerts(); rep.Queued != 0 || len(e.mails(MailKindDisconnect)) != 0 {
		t.Fatalf("an alert before the delay: %+v", rep)
	}
	if down, _ := e.svc.Disconnected(e.ctx, ch.UserID); len(down) != 0 {
		t.Fatalf("on the banner before the delay: %+v", down)
	}
	e.clock.Advance(time.Minute)
	if rep := e.alerts(); rep.Queued != 1 {
		t.Fatalf("after the delay: %+v", rep)
	}
	ms := e.mails(MailKindDisconnect)
	if len(ms) != 1 || ms[0].To != "amal@example.com" || ms[0].State != models.MailQueued {
		t.Fatalf("alerts: %+v", ms)
	}
	m := ms[0]
	if !strings.Contains(m.Text, "https://desk.example.com/l/") || !strings.Contains(m.HTML, `href="https://desk.example.com/l/`) ||
		!strings.Contains(m.Text, `"amal"`) || !strings.Contains(m.Subject, "LinkDesk") || !strings.Contains(m.Text, "https://desk.example.com/login") {
		t.Fatalf("the alert:\n%s\n%s\n%s", m.Subject, m.Text, m.HTML)
	}
	e.noWHAPIWords(m, ch)
	links, err := e.svc.ConnectLinks(e.ctx, ch.ID)
	if err != nil || len(links) != 1 {
		t.Fatalf("the alert's connect link: %d %v", len(links), err)
	}

	// Not twice: again now, 3 hours on, and after a reconnect and a new
	// drop within the 6 hours.
	if rep := e.alerts(); rep.Queued != 0 {
		t.Fatalf("a second run: %+v", rep)
	}
	e.clock.Advance(3 * time.Hour)
	if rep := e.alerts(); rep.Queued != 0 {
		t.Fatalf("3 hours on: %+v", rep)
	}
	e.relink(ch)
	if down, _ := e.svc.Disconnected(e.ctx, 0); len(down) != 0 {
		t.Fatalf("reconnected, still listed: %+v", down)
	}
	e.unlink(ch)
	e.clock.Advance(10 * time.Minute)
	if down, _ := e.svc.Disconnected(e.ctx, ch.UserID); len(down) != 1 {
		t.Fatalf("dropped again: %+v", down)
	}
	if rep := e.alerts(); rep.Queued != 0 || rep.Skipped != 1 {
		t.Fatalf("a second drop within 6 hours: %+v", rep)
	}
	e.clock.Advance(3 * time.Hour)
	if rep := e.alerts(); rep.Queued != 1 || len(e.mails(MailKindDisconnect)) != 2 {
		t.Fatalf("6 hours after the first alert: %+v", rep)
	}
}

// Without a public address a job cannot build a link: the alert tells the
// owner to sign in, and carries no address at all.
func TestDisconnectAlertWithoutPublicAddress(t *testing.T) {
	e := newEnv(t)
	var logs strings.Builder
	e.svc = New(e.store, e.te.Client(), slog.New(slog.NewTextHandler(&logs, nil)))
	e.svc.SetClock(e.clock.Now)
	ch := e.linked("noura")
	e.unlink(ch)
	e.clock.Advance(6 * time.Minute)
	if rep := e.alerts(); rep.Queued != 1 {
		t.Fatalf("%+v", rep)
	}
	e.alerts()
	if n := strings.Count(logs.String(), "disconnect alerts go without a reconnect link: set WHAPIDESK_PUBLIC_URL"); n != 1 {
		t.Fatalf("the warning was logged %d times, want once:\n%s", n, logs.String())
	}
	m := e.mails(MailKindDisconnect)[0]
	if strings.Contains(m.Text, "http") || strings.Contains(m.HTML, "href") || !strings.Contains(m.Text, "Sign in to LinkDesk and choose Reconnect") {
		t.Fatalf("the alert:\n%s\n%s", m.Text, m.HTML)
	}
	if links, _ := e.svc.ConnectLinks(e.ctx, ch.ID); len(links) != 0 {
		t.Fatalf("a link made for a mail that cannot carry it: %d", len(links))
	}
	// No public host to name the Message-ID's domain: the outbox's own, as
	// every other mail made without one.
	if !strings.HasSuffix(m.MessageID, "@mail.invalid") {
		t.Fatalf("Message-ID %s", m.MessageID)
	}
}

// Reminders go 7, 3 and 1 days before the paid time ends, once each, to a
// channel the top-up will not extend (manual mode, or auto mode without
// days); none to an auto-mode channel whose owner has days.
func TestExpiryRemindersSevenThreeOne(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPublicURL("https://desk.example.com")
	manual := e.customer("manual", 2, 30, 60)
	mch := e.create(manual.ID, "manual line")
	auto := e.customer("auto", 2, 10, 90)
	if err := e.store.SetAllocationMode(e.ctx, admin, auto.ID, models.AllocationAuto); err != nil {
		t.Fatal(err)
	}
	ach := e.create(auto.ID, "auto line") // 10 days allocated at once
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: mch.ID, Days: 10, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	if c := e.channel(ach.ID); c.DaysAllocated != 10 || e.user(auto.ID).DayBalance == 0 {
		t.Fatalf("the auto line has %d days, its owner %d: the test needs 10 and some", c.DaysAllocated, e.user(auto.ID).DayBalance)
	}
	till := *e.channel(mch.ID).ActiveTill
	if d := e.channel(ach.ID).ActiveTill.Sub(till); d > time.Hour || d < -time.Hour {
		t.Fatalf("the two lines end %s apart: the auto line would not be due with the other", d)
	}
	run := func() {
		t.Helper()
		if _, err := e.svc.ExpiryReminders(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	subjects := func() []string {
		var out []string
		for _, m := range e.mails(MailKindExpiry) {
			if m.To != "manual@example.com" {
				t.Fatalf("a reminder to %s", m.To)
			}
			e.noWHAPIWords(m, mch)
			out = append(out, m.Subject)
		}
		return out
	}
	at := func(before time.Duration) {
		t.Helper()
		e.clock.Set(till.Add(-before))
		run()
		run() // a second run (another instance, a restart) sends nothing more
	}
	day := 24 * time.Hour
	at(8 * day)
	if s := subjects(); len(s) != 0 {
		t.Fatalf("8 days before: %v", s)
	}
	at(7*day - time.Hour)
	at(5 * day)
	at(3*day - time.Hour)
	at(2 * day)
	at(day - time.Minute)
	at(time.Hour)
	want := []string{`LinkDesk: "manual line" stops in 7 days`, `LinkDesk: "manual line" stops in 3 days`, `LinkDesk: "manual line" stops in 1 day`}
	if s := subjects(); strings.Join(s, "|") != strings.Join(want, "|") {
		t.Fatalf("reminders:\n%s", strings.Join(s, "\n"))
	}
	if m := e.mails(MailKindExpiry)[2]; !strings.Contains(m.Text, "https://desk.example.com/login") {
		t.Fatalf("the reminder:\n%s", m.Text)
	}
}

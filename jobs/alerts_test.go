package jobs_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/internal/testsmtp"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
)

// manualClock is a clock a test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// linkedChannel makes a customer's channel as a confirmed create leaves
// it, with a phone linked at the clock's now.
func (e *mailEnv) linkedChannel(t *testing.T, email string) *models.Channel {
	t.Helper()
	ctx := t.Context()
	u, err := e.store.CreateUser(ctx, models.NewUser{Email: email, Name: "Rana", Password: "long enough pw", Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.store.CreatePlan(ctx, e.admin, models.PlanInput{Name: "P", MaxChannels: 1, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ActivatePlan(ctx, e.admin, u.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	ch, op, err := e.store.ReserveChannel(ctx, e.admin, u.ID, "front desk", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ConfirmCreate(ctx, op.ID, models.RemoteChannel{WhapiID: "REMOTE-ID-1", Token: "a channel token of the test",
		Mode: "trial", ActiveTill: time.Now().Add(72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := e.store.ApplyGate(ctx, ch.ID, models.GateObservation{Status: "AUTH", Linked: &yes, Phone: "97313300383"}); err != nil {
		t.Fatal(err)
	}
	return ch
}

// A linked channel that drops gets, through the periodic job and a real
// SMTP server, one alert after the delay with a working connect link on
// the public address, in a plain-text and an HTML part, with no WHAPI word
// or id; a second run of the job sends nothing more.
func TestDisconnectAlertArrivesOnceThroughSMTP(t *testing.T) {
	e := newMailEnv(t)
	clock := &manualClock{now: time.Now().UTC().Truncate(time.Second)}
	e.store.SetClock(clock.Now)
	e.svc.SetClock(clock.Now)
	srv := testsmtp.Start(t, testsmtp.Options{})
	q := e.queueWithAlerts(t, srv)
	ch := e.linkedChannel(t, "rana@example.com")

	no := false
	if _, err := e.store.ApplyGate(t.Context(), ch.ID, models.GateObservation{Status: "QR", Linked: &no}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute)
	if rep, err := e.svc.DisconnectAlerts(t.Context()); err != nil || rep.Queued != 0 || len(e.mails(t)) != 0 {
		t.Fatalf("before the delay: %+v %v", rep, err)
	}

	// Past the delay, the job (as its period's leader inserts it) queues
	// the alert; a second run — another instance's, a restart's — none.
	clock.Advance(2 * time.Minute)
	res, err := q.InsertPeriodic(t.Context(), jobs.KindDisconnectAlerts)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the alert job ran", func() bool {
		j, err := q.Get(t.Context(), res.Job.ID)
		return err == nil && j.State == "completed"
	})
	if rep, err := e.svc.DisconnectAlerts(t.Context()); err != nil || rep.Queued != 0 {
		t.Fatalf("a second run: %+v %v", rep, err)
	}
	ms := e.mails(t)
	if len(ms) != 1 || ms[0].Kind != "disconnect_alert" {
		t.Fatalf("outbox: %+v", ms)
	}
	e.waitState(t, ms[0].ID, models.MailSent)
	waitFor(t, 30*time.Second, "the queue is idle", func() bool { return settled(t, q) })
	got := srv.Mails()
	if len(got) != 1 || len(got[0].To) != 1 || got[0].To[0] != "rana@example.com" {
		t.Fatalf("the server got %+v", got)
	}
	_, p := got[0].Parts(t)
	text, html := p["text/plain"], p["text/html"]
	i := strings.Index(text, "https://desk.example.com/l/")
	if i < 0 || !strings.Contains(html, `href="https://desk.example.com/l/`) || !strings.Contains(text, "front desk") {
		t.Fatalf("no connect link in both parts:\n%s\n%s", text, html)
	}
	token := strings.Fields(text[i+len("https://desk.example.com/l/"):])[0]
	if _, _, err := e.svc.OpenConnectLink(t.Context(), token); err != nil {
		t.Fatalf("the mailed link does not open: %v", err)
	}
	low := strings.ToLower(got[0].Data)
	if strings.Contains(low, "whapi") || strings.Contains(got[0].Data, "REMOTE-ID-1") {
		t.Fatalf("the alert shows WHAPI:\n%s", got[0].Data)
	}
}

// queueWithAlerts starts a queue that sends through srv and runs the
// history's jobs, and hands it to the workflows.
func (e *mailEnv) queueWithAlerts(t *testing.T, srv *testsmtp.Server) *jobs.Queue {
	t.Helper()
	sender := newSender(t, srv)
	cfg := jobs.Config{NoPeriodic: true, Outbox: e.store, Mailer: sender, History: e.svc,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	q := open(t, e.db, &countingWork{}, &syncBuffer{}, cfg)
	e.svc.SetMailQueue(q)
	return q
}

// A job that ran out of attempts is on the Attention list, in the Jobs
// page's words, with its last error.
func TestGivenUpJobIsOnTheAttentionList(t *testing.T) {
	e := newMailEnv(t)
	w := &countingWork{fail: func(int64) error { return errors.New("the partner token was refused") }}
	q := open(t, e.db, w, &syncBuffer{}, jobs.Config{NoPeriodic: true, MaxAttempts: 1})
	res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the job is given up", func() bool {
		j, err := q.Get(t.Context(), res.Job.ID)
		return err == nil && j.State == "discarded"
	})
	items, err := e.svc.Attention(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Kind != provision.AttnJobFailed || items[0].Job.ID != res.Job.ID ||
		items[0].Job.What != "auto top-up" || items[0].Job.Error != "the partner token was refused" || items[0].Since.IsZero() {
		t.Fatalf("attention: %+v", items)
	}
}

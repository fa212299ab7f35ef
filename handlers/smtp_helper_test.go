package handlers

import (
	"context"
	"testing"
	"time"

	"whapidesk/internal/mailer"
	"whapidesk/internal/testsmtp"
	"whapidesk/jobs"
)

// withMail gives the app a job queue that sends the outbox's mails through
// srv, as `serve` does with WHAPIDESK_SMTP_URL set.
func withMail(t *testing.T, a *testApp, srv *testsmtp.Server) *jobs.Queue {
	t.Helper()
	sc, err := mailer.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	from, err := mailer.ParseFrom("Acme Desk <desk@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mailer.New(sc, from)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(t.Context(), a.env.DB, jobs.Config{Work: a.svc, Sessions: a.store, Log: a.env.Log,
		NoPeriodic: true, ReconcileAfterBoot: -1, FetchPoll: 20 * time.Millisecond,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Outbox: a.store, Mailer: sender})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	a.svc.SetMailQueue(q)
	a.h.cfg.Jobs = q
	return q
}

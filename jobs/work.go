package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The job kinds, as River stores them (river_job.kind). A kind is never
// renamed: jobs already queued under it would find no worker.
const (
	KindReconcile = "reconcile"
	KindTopUp     = "auto_top_up"
	KindSessions  = "session_cleanup"
)

// ReconcileArgs is a Reconcile run. Boot names the start whose own
// Reconcile it is ("" for the periodic ones): each start gets one, and
// the periodic ones are one per period.
type ReconcileArgs struct {
	Boot string `json:"boot,omitempty"`
}

// Kind is River's name of the job.
func (ReconcileArgs) Kind() string { return KindReconcile }

// TopUpArgs is an automatic top-up run.
type TopUpArgs struct{}

// Kind is River's name of the job.
func (TopUpArgs) Kind() string { return KindTopUp }

// SessionsArgs is a cleanup of expired sessions.
type SessionsArgs struct{}

// Kind is River's name of the job.
func (SessionsArgs) Kind() string { return KindSessions }

// everyOpts are the insert options of a job due every period: unique by
// kind, arguments and period (River's default unique states, completed
// included), so that however many instances insert it, and however often
// one restarts, it is inserted — and so run — once per period.
func everyOpts(period time.Duration) *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: period}}
}

// periodicJobs are the jobs of every period. Only the instance River
// elects leader inserts them; the unique options make a second insert of
// the same period (a new leader, a restart) a no-op.
func (q *Queue) periodicJobs() []*river.PeriodicJob {
	every := func(d time.Duration, args river.JobArgs, onStart bool) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d), func() (river.JobArgs, *river.InsertOpts) {
			return args, everyOpts(d)
		}, &river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: onStart})
	}
	jobs := []*river.PeriodicJob{
		// The first periodic Reconcile waits an interval: each start has
		// its own (InsertBootReconcile).
		every(q.cfg.ReconcileEvery, ReconcileArgs{}, false),
		every(q.cfg.TopUpEvery, TopUpArgs{}, false),
		// Expired sessions go at start, as they always did.
		every(q.cfg.SessionsEvery, SessionsArgs{}, true),
	}
	// The admins' alerts and daily summary (jobs/admin_alerts.go), at
	// start too: an alert waits for no interval.
	if q.cfg.Alerts != nil {
		jobs = append(jobs, every(AlertsEvery, AdminAlertsArgs{}, true))
	}
	// The status history's jobs (jobs/alerts.go).
	jobs = append(jobs, q.alertPeriodicJobs()...)
	return jobs
}

// InsertBootReconcile schedules this start's Reconcile, ReconcileAfterBoot
// from now; Start calls it.
func (q *Queue) InsertBootReconcile(ctx context.Context) (*rivertype.JobInsertResult, error) {
	at := time.Now().Add(q.cfg.ReconcileAfterBoot)
	opts := &river.InsertOpts{ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	return q.client.Insert(ctx, ReconcileArgs{Boot: q.boot}, opts)
}

// InsertPeriodic inserts the periodic job of kind for the period now falls
// in, with the options the periodic schedule uses: what the leader does
// when the period comes (and what two instances both doing it would do).
func (q *Queue) InsertPeriodic(ctx context.Context, kind string) (*rivertype.JobInsertResult, error) {
	switch kind {
	case KindReconcile:
		return q.client.Insert(ctx, ReconcileArgs{}, everyOpts(q.cfg.ReconcileEvery))
	case KindTopUp:
		return q.client.Insert(ctx, TopUpArgs{}, everyOpts(q.cfg.TopUpEvery))
	case KindSessions:
		return q.client.Insert(ctx, SessionsArgs{}, everyOpts(q.cfg.SessionsEvery))
	case KindAdminAlerts:
		if q.cfg.Alerts != nil {
			return q.client.Insert(ctx, AdminAlertsArgs{}, everyOpts(AlertsEvery))
		}
	}
	// The status history's jobs (jobs/alerts.go).
	if args, opts, ok := q.insertAlertPeriodic(kind); ok && q.cfg.History != nil {
		return q.client.Insert(ctx, args, opts)
	}
	return nil, ErrUnknownKind
}

// bootName is a random name of one start of the app.
func bootName() string { return rand.Text()[:16] }

// reconcileWorker runs provision's Reconcile. Its log line is the one the
// ticker loop wrote ("reconcile settled=… synced=…"): operators and the
// crash test read it.
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	q *Queue
}

func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return jobTimeout }

func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	rep, err := w.q.cfg.Work.Reconcile(ctx)
	if err != nil {
		return err
	}
	w.q.log.InfoContext(ctx, "reconcile", "settled", rep.Settled, "synced", rep.Synced, "gone", rep.Gone, "orphans", rep.Orphans,
		"errors", rep.Errors, "webhooks", rep.Hooked, "job", job.ID, "after_boot", job.Args.Boot != "")
	return nil
}

// topUpWorker runs provision's AutoTopUp.
type topUpWorker struct {
	river.WorkerDefaults[TopUpArgs]
	q *Queue
}

func (w *topUpWorker) Timeout(*river.Job[TopUpArgs]) time.Duration { return jobTimeout }

func (w *topUpWorker) Work(ctx context.Context, job *river.Job[TopUpArgs]) error {
	rep, err := w.q.cfg.Work.AutoTopUp(ctx)
	if err != nil {
		return err
	}
	if rep.Candidates > 0 {
		w.q.log.InfoContext(ctx, "auto top-up", "channels", rep.Extended, "days", rep.Days, "failed", rep.Failed,
			"deferred", rep.Deferred, "job", job.ID)
	}
	return nil
}

// sessionsWorker deletes expired sessions.
type sessionsWorker struct {
	river.WorkerDefaults[SessionsArgs]
	q *Queue
}

func (w *sessionsWorker) Work(ctx context.Context, _ *river.Job[SessionsArgs]) error {
	n, err := w.q.cfg.Sessions.DeleteExpiredSessions(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.q.log.InfoContext(ctx, "deleted expired sessions", "count", n)
	}
	return nil
}

// retryPolicy waits backoff(attempt) after a failed attempt.
type retryPolicy struct{ backoff func(int) time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.backoff(job.Attempt))
}

// errorHandler logs a failed attempt: its kind, attempt and error (the
// work's errors never carry a token: whapi's errors name the call and
// WHAPI's answer, never the credential). The message is "<kind> failed",
// as the ticker loop's was ("reconcile failed").
type errorHandler struct{ q *Queue }

func (h errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if errors.Is(err, context.Canceled) {
		// Cut short by Stop (or a cancel from the Jobs page): not a fault.
		h.q.log.InfoContext(ctx, kindWords(job.Kind)+" cut short", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt)
		return nil
	}
	h.log(ctx, job, "err", err)
	return nil
}

func (h errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, _ string) *river.ErrorHandlerResult {
	h.log(ctx, job, "panic", panicVal)
	return nil
}

func (h errorHandler) log(ctx context.Context, job *rivertype.JobRow, args ...any) {
	msg := kindWords(job.Kind) + " failed"
	attrs := []any{"kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts}
	if job.Attempt < job.MaxAttempts {
		attrs = append(attrs, "retry_in", h.q.cfg.Backoff(job.Attempt).String())
		h.q.log.WarnContext(ctx, msg, append(attrs, args...)...)
		return
	}
	h.q.log.ErrorContext(ctx, msg+": no attempts left (retry it from the Jobs page)", append(attrs, args...)...)
}

// kindWords is a kind in the words of the log and the Jobs page.
func kindWords(kind string) string {
	switch kind {
	case KindReconcile:
		return "reconcile"
	case KindTopUp:
		return "auto top-up"
	case KindSessions:
		return "session cleanup"
	case KindSendMail: // jobs/mail.go
		return "send mail"
	case KindAdminAlerts: // jobs/admin_alerts.go
		return "admin alerts"
	case KindDeliverWebhook: // jobs/webhooks.go
		return "deliver webhook"
	}
	if w := alertKindWords(kind); w != "" { // jobs/alerts.go
		return w
	}
	return kind
}

// InsertTx queues a job in the caller's transaction tx (from
// models.Store.InSQLTx, on the database the queue runs on): the job
// exists if and only if tx commits, so a job caused by a change — the
// outbox's mail, a webhook delivery — is never lost when the change
// commits and never sent when it rolls back. The job's kind must be one
// this queue works.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := q.client.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

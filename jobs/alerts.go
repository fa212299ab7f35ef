package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"whapidesk/provision"
)

// The status history's jobs (issue 16): the disconnect alerts, the expiry
// reminders and the prune of old history, each a periodic job unique per
// period (so two instances or a restart run one period's job once), each
// calling provision (provision/alerts.go, provision/history.go). The mails
// they queue carry unique keys too, so a job run twice — at least once, as
// every job — queues no mail twice.

// The kinds of the history's jobs (never renamed).
const (
	KindDisconnectAlerts = "disconnect_alerts"
	KindExpiryReminders  = "expiry_reminders"
	KindPruneEvents      = "prune_channel_events"
)

// Intervals of the history's jobs: an alert is due within a minute of its
// delay; reminders are days apart, so an hour is often enough; the prune
// is daily.
const (
	DisconnectAlertsEvery = time.Minute
	ExpiryRemindersEvery  = time.Hour
	PruneEventsEvery      = 24 * time.Hour
)

// AlertWork is what the history's jobs call: provision.Service's methods.
type AlertWork interface {
	DisconnectAlerts(ctx context.Context) (provision.LineAlertReport, error)
	ExpiryReminders(ctx context.Context) (provision.LineAlertReport, error)
	PruneEvents(ctx context.Context) (int64, error)
}

var (
	_ AlertWork            = (*provision.Service)(nil)
	_ provision.FailedJobs = (*Queue)(nil)
)

// DisconnectAlertsArgs is a run of the disconnect alerts.
type DisconnectAlertsArgs struct{}

// Kind is River's name of the job.
func (DisconnectAlertsArgs) Kind() string { return KindDisconnectAlerts }

// ExpiryRemindersArgs is a run of the expiry reminders.
type ExpiryRemindersArgs struct{}

// Kind is River's name of the job.
func (ExpiryRemindersArgs) Kind() string { return KindExpiryReminders }

// PruneEventsArgs is a prune of the status history.
type PruneEventsArgs struct{}

// Kind is River's name of the job.
func (PruneEventsArgs) Kind() string { return KindPruneEvents }

// addAlertWorkers registers the history's workers when the queue has
// AlertWork.
func (q *Queue) addAlertWorkers(ws *river.Workers) {
	if q.cfg.History == nil {
		return
	}
	river.AddWorker(ws, &alertWorker[DisconnectAlertsArgs]{q: q, run: func(ctx context.Context) error {
		rep, err := q.cfg.History.DisconnectAlerts(ctx)
		if err == nil && rep.Queued > 0 {
			q.log.InfoContext(ctx, "disconnect alerts queued", "mails", rep.Queued)
		}
		return err
	}})
	river.AddWorker(ws, &alertWorker[ExpiryRemindersArgs]{q: q, run: func(ctx context.Context) error {
		_, err := q.cfg.History.ExpiryReminders(ctx)
		return err
	}})
	river.AddWorker(ws, &alertWorker[PruneEventsArgs]{q: q, run: func(ctx context.Context) error {
		n, err := q.cfg.History.PruneEvents(ctx)
		if err == nil && n > 0 {
			q.log.InfoContext(ctx, "pruned the status history", "events", n)
		}
		return err
	}})
}

// alertPeriodicJobs are the history's periodic jobs (none without
// AlertWork), each unique per its interval; the first of each runs at
// start.
func (q *Queue) alertPeriodicJobs() []*river.PeriodicJob {
	if q.cfg.History == nil {
		return nil
	}
	every := func(d time.Duration, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d), func() (river.JobArgs, *river.InsertOpts) {
			return args, everyOpts(d)
		}, &river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true})
	}
	return []*river.PeriodicJob{
		every(DisconnectAlertsEvery, DisconnectAlertsArgs{}),
		every(ExpiryRemindersEvery, ExpiryRemindersArgs{}),
		every(PruneEventsEvery, PruneEventsArgs{}),
	}
}

// insertAlertPeriodic is InsertPeriodic for the history's kinds (nil, false
// for another kind).
func (q *Queue) insertAlertPeriodic(kind string) (river.JobArgs, *river.InsertOpts, bool) {
	switch kind {
	case KindDisconnectAlerts:
		return DisconnectAlertsArgs{}, everyOpts(DisconnectAlertsEvery), true
	case KindExpiryReminders:
		return ExpiryRemindersArgs{}, everyOpts(ExpiryRemindersEvery), true
	case KindPruneEvents:
		return PruneEventsArgs{}, everyOpts(PruneEventsEvery), true
	}
	return nil, nil, false
}

// alertWorker runs one of the history's jobs.
type alertWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	q   *Queue
	run func(ctx context.Context) error
}

func (w *alertWorker[T]) Timeout(*river.Job[T]) time.Duration { return jobTimeout }

func (w *alertWorker[T]) Work(ctx context.Context, _ *river.Job[T]) error { return w.run(ctx) }

// alertKindWords are the history's kinds in the words of the log and the
// Jobs page ("" for another kind).
func alertKindWords(kind string) string {
	switch kind {
	case KindDisconnectAlerts:
		return "disconnect alerts"
	case KindExpiryReminders:
		return "expiry reminders"
	case KindPruneEvents:
		return "status history prune"
	}
	return ""
}

// FailedJobs lists the jobs that failed (waiting for a retry, or given
// up), newest first, at most limit: the Attention list's.
func (q *Queue) FailedJobs(ctx context.Context, limit int) ([]provision.FailedJob, error) {
	js, _, err := q.List(ctx, GroupFailed, 0, limit)
	if err != nil {
		return nil, err
	}
	out := make([]provision.FailedJob, 0, len(js))
	for _, j := range js {
		at := j.CreatedAt
		switch {
		case j.FinalizedAt != nil:
			at = *j.FinalizedAt
		case j.AttemptedAt != nil:
			at = *j.AttemptedAt
		}
		out = append(out, provision.FailedJob{ID: j.ID, Kind: j.Kind, What: j.What, Error: j.LastError, At: at})
	}
	return out, nil
}

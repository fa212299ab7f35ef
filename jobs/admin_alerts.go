package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"whapidesk/provision"
)

// The admins' alerts and daily summary (issue 16, point 3): a periodic job,
// inserted by the leader once per AlertsEvery with unique options (so once
// per period across instances and restarts), looks for what the admins
// must hear of and hands it to provision.Service.AdminAlerts, which queues
// each mail once under its own unique key. So an alert goes out within
// AlertsEvery of its cause, and the summary within AlertsEvery of the
// digest hour.

// KindAdminAlerts is the job's kind (never renamed).
const KindAdminAlerts = "admin_alerts"

// AlertsEvery is how often the admins' alerts are looked for.
const AlertsEvery = 5 * time.Minute

// failureLookback is how far back a job given up counts: its alert is
// keyed by the job, so a longer look back sends nothing twice.
const failureLookback = 24 * time.Hour

// Alerts is what the alerts job calls: provision.Service's AdminAlerts.
type Alerts interface {
	AdminAlerts(ctx context.Context, in provision.AlertInput) (provision.AlertReport, error)
}

var _ Alerts = (*provision.Service)(nil)

// AdminAlertsArgs is one look for the admins' alerts.
type AdminAlertsArgs struct{}

// Kind is River's name of the job.
func (AdminAlertsArgs) Kind() string { return KindAdminAlerts }

// adminAlertsWorker runs the look.
type adminAlertsWorker struct {
	river.WorkerDefaults[AdminAlertsArgs]
	q *Queue
}

func (w *adminAlertsWorker) Timeout(*river.Job[AdminAlertsArgs]) time.Duration { return jobTimeout }

func (w *adminAlertsWorker) Work(ctx context.Context, job *river.Job[AdminAlertsArgs]) error {
	failures, err := w.q.GivenUp(ctx, time.Now().Add(-failureLookback))
	if err != nil {
		return err
	}
	rep, err := w.q.cfg.Alerts.AdminAlerts(ctx, provision.AlertInput{Failures: failures, DigestHour: w.q.cfg.DigestHour})
	if err != nil {
		return err
	}
	if rep.Alerts+rep.Digests > 0 {
		w.q.log.InfoContext(ctx, "admin alerts", "alerts", rep.Alerts, "digests", rep.Digests, "admins", rep.Admins, "job", job.ID)
	}
	return nil
}

// GivenUp are the jobs given up after their last attempt (River's
// "discarded") since since, oldest first, but for the mail jobs (a mail
// that cannot be sent is on the Outbox page; an alert by mail about it
// would feed itself).
func (q *Queue) GivenUp(ctx context.Context, since time.Time) ([]provision.JobFailure, error) {
	p := river.NewJobListParams().States(rivertype.JobStateDiscarded).OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(1000)
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("jobs: given up: %w", err)
	}
	var out []provision.JobFailure
	for _, r := range res.Jobs {
		if r.Kind == KindSendMail || r.FinalizedAt == nil || r.FinalizedAt.Before(since) {
			continue
		}
		out = append(out, provision.JobFailure{ID: r.ID, What: kindWords(r.Kind), Kind: r.Kind, At: *r.FinalizedAt})
	}
	return out, nil
}

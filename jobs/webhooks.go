package jobs

// Webhooks out: deliver_webhook sends one delivery row (models/webhooks.go)
// to its endpoint with internal/webhookout, one attempt per run, and
// records the attempt. Kept apart from the periodic jobs in work.go.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/riverqueue/river"

	"whapidesk/internal/webhookout"
	"whapidesk/models"
)

// KindDeliverWebhook is the job that sends one webhook delivery. Never
// renamed.
const KindDeliverWebhook = "deliver_webhook"

// QueueWebhooks is the River queue webhook deliveries go through: their
// own, so that a slow endpoint never holds up a mail or a Reconcile.
const QueueWebhooks = "webhooks"

// webhookWorkers is how many deliveries one instance sends at once: an
// endpoint may take its full 10 seconds to answer.
const webhookWorkers = 4

// webhookTimeout bounds one run: one attempt (webhookout's 10 s) and its
// records. models.WebhookLease is longer.
const webhookTimeout = 30 * time.Second

// WebhookStore is what the delivery job reads and records; *models.Store
// is one.
type WebhookStore interface {
	ClaimWebhookDelivery(ctx context.Context, id int64) (*models.WebhookDelivery, *models.WebhookEndpoint, error)
	WebhookSecrets(ep *models.WebhookEndpoint) ([]byte, [][]byte, error)
	RecordWebhookAttempt(ctx context.Context, id int64, a models.WebhookAttempt, out models.WebhookOutcome) error
	UnsentWebhookDeliveryIDs(ctx context.Context) ([]int64, error)
}

// WebhookDeliverer sends one signed attempt; *webhookout.Deliverer is one.
type WebhookDeliverer interface {
	Deliver(ctx context.Context, endpoint *url.URL, secret []byte, ev webhookout.Event, previous ...[]byte) webhookout.Attempt
}

var (
	_ WebhookStore     = (*models.Store)(nil)
	_ WebhookDeliverer = (*webhookout.Deliverer)(nil)
)

// DeliverWebhookArgs is one attempt at the delivery DeliveryID.
type DeliverWebhookArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is River's name of the job.
func (DeliverWebhookArgs) Kind() string { return KindDeliverWebhook }

// InsertOpts: the webhooks queue. The retries of a delivery are the job
// snoozing until the delivery's next attempt (webhookout's backoff, for 24
// hours), so MaxAttempts only bounds failures of the job itself (the
// database). No unique options: a delivery may have more than one job
// (its cause's, a start's), and its claim lets one send at a time.
func (DeliverWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: defaultMaxAttempts}
}

// InsertWebhookTx queues the send of delivery id in tx, the transaction
// that wrote it (models.Store.EnqueueWebhookEvent): the job exists if and
// only if the delivery does.
func (q *Queue) InsertWebhookTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if q.cfg.Webhooks == nil || q.cfg.Deliverer == nil {
		return nil
	}
	_, err := q.InsertTx(ctx, tx, DeliverWebhookArgs{DeliveryID: id}, nil)
	return err
}

// queueUnsentWebhooks queues a job for every delivery still on its way:
// one whose job a crash cut short waits otherwise for River's rescue
// (half an hour). A delivery whose job is still live gets a second one,
// which finds it busy, not due or done.
func (q *Queue) queueUnsentWebhooks(ctx context.Context) error {
	if q.cfg.Webhooks == nil || q.cfg.Deliverer == nil {
		return nil
	}
	ids, err := q.cfg.Webhooks.UnsentWebhookDeliveryIDs(ctx)
	if err != nil {
		return err
	}
	return q.insertFor(ctx, ids, func(id int64) river.JobArgs { return DeliverWebhookArgs{DeliveryID: id} },
		"webhook delivery", "queued the webhook deliveries still on their way")
}

// deliverWebhookWorker makes one attempt at a delivery. The row is claimed
// first (queued and due, or sending past its lease → sending), the event
// sent outside any transaction, then the attempt recorded with what it
// leaves: delivered; queued again after webhookout's backoff (the job
// snoozes until then) when a retry may help and the 24 hours since the
// first attempt are not over; failed otherwise. A crash after the endpoint
// answered and before the record leaves the row "sending": after the lease
// it is sent again with the same event id (at least once; the receiver
// skips a repeat by its id).
type deliverWebhookWorker struct {
	river.WorkerDefaults[DeliverWebhookArgs]
	q *Queue
}

func (w *deliverWebhookWorker) Timeout(*river.Job[DeliverWebhookArgs]) time.Duration {
	return webhookTimeout
}

func (w *deliverWebhookWorker) Work(ctx context.Context, job *river.Job[DeliverWebhookArgs]) error {
	st, sender := w.q.cfg.Webhooks, w.q.cfg.Deliverer
	id := job.Args.DeliveryID
	if st == nil || sender == nil {
		return errors.New("jobs: webhooks are not configured")
	}
	d, ep, err := st.ClaimWebhookDelivery(ctx, id)
	var notDue *models.WebhookNotDue
	switch {
	case errors.Is(err, models.ErrWebhookDone) || errors.Is(err, models.ErrNotFound):
		return nil // delivered, failed or deleted meanwhile
	case errors.Is(err, models.ErrWebhookBusy):
		return river.JobSnooze(models.WebhookLease)
	case errors.As(err, &notDue):
		return river.JobSnooze(max(notDue.At.Sub(w.q.now()), time.Second))
	case err != nil:
		return err
	}
	out, attempt := w.attempt(ctx, sender, st, d, ep)
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := st.RecordWebhookAttempt(rec, id, attempt, out); err != nil {
		if errors.Is(err, models.ErrWebhookDone) || errors.Is(err, models.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("jobs: record webhook attempt: %w", err)
	}
	log := []any{"delivery", id, "endpoint", d.EndpointID, "event", d.EventID, "type", d.EventType, "attempt", d.Attempts,
		"status", attempt.StatusCode, "latency_ms", attempt.LatencyMS}
	switch out.State {
	case models.WebhookDelivered:
		w.q.log.InfoContext(ctx, "webhook delivered", log...)
		return nil
	case models.WebhookQueued:
		wait := max(out.Next.Sub(w.q.now()), 0)
		w.q.log.InfoContext(ctx, "webhook not delivered: trying again", append(log, "retry_in", wait.Round(time.Second).String(), "err", attempt.Error)...)
		return river.JobSnooze(wait)
	}
	w.q.log.WarnContext(ctx, "webhook failed: not sent again", append(log, "err", attempt.Error)...)
	return nil
}

// attempt sends d to ep once and says what it leaves of the delivery.
func (w *deliverWebhookWorker) attempt(ctx context.Context, sender WebhookDeliverer, st WebhookStore,
	d *models.WebhookDelivery, ep *models.WebhookEndpoint) (models.WebhookOutcome, models.WebhookAttempt) {
	now := w.q.now()
	failed := func(why string) (models.WebhookOutcome, models.WebhookAttempt) {
		return models.WebhookOutcome{State: models.WebhookFailed}, models.WebhookAttempt{AttemptedAt: now, Error: why}
	}
	u, err := url.Parse(ep.URL)
	if err != nil {
		return failed("the endpoint's address cannot be read")
	}
	secret, previous, err := st.WebhookSecrets(ep)
	if err != nil {
		return failed("the endpoint's secret cannot be opened with this server's key")
	}
	var ev webhookout.Event
	if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
		return failed("the stored event cannot be read")
	}
	a := sender.Deliver(ctx, u, secret, ev, previous...)
	rec := models.WebhookAttempt{AttemptedAt: now, StatusCode: a.Status, LatencyMS: a.Latency.Milliseconds()}
	if a.Delivered() {
		return models.WebhookOutcome{State: models.WebhookDelivered}, rec
	}
	rec.Error = a.Err.Error()
	if a.Body != "" {
		rec.Error += " (answer: " + a.Body + ")"
	}
	if !a.Retry {
		return models.WebhookOutcome{State: models.WebhookFailed}, rec
	}
	first := now
	if d.FirstAttemptAt != nil {
		first = *d.FirstAttemptAt
	}
	next := w.q.now().Add(max(w.q.cfg.WebhookBackoff(d.Attempts), a.RetryAfter))
	if next.Sub(first) > webhookout.GiveUpAfter {
		rec.Error += "; given up 24 hours after the first attempt"
		return models.WebhookOutcome{State: models.WebhookFailed}, rec
	}
	return models.WebhookOutcome{State: models.WebhookQueued, Next: next}, rec
}

// now is the queue's clock (Config.Now; tests may set one).
func (q *Queue) now() time.Time {
	if q.cfg.Now != nil {
		return q.cfg.Now()
	}
	return time.Now()
}

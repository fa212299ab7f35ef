package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhooks out (issue 16, point 5; migrations 0026 and 0027): the
// reseller's endpoints, the deliveries of events to them, and each
// attempt. A delivery is written in the transaction of its cause with its
// job (EnqueueWebhookEvent), claimed by the job with a conditional update
// and a lease (ClaimWebhookDelivery), and settled with its attempt in one
// transaction (RecordWebhookAttempt). What is sent and when to retry is
// decided by provision and jobs (with internal/webhookout); this file
// keeps the rows.

// WebhookState is where a delivery is on its way out.
type WebhookState string

// Delivery states: queued (waiting for its job, or for its next attempt),
// sending (claimed by a job; left so by a crash until the lease passes),
// delivered (the endpoint answered 2xx), failed (refused for good, or still
// failing 24 hours after the first attempt).
const (
	WebhookQueued    WebhookState = "queued"
	WebhookSending   WebhookState = "sending"
	WebhookDelivered WebhookState = "delivered"
	WebhookFailed    WebhookState = "failed"
)

// WebhookLease is how long a claimed delivery is left "sending" before
// another job may claim it again: longer than one attempt can take (the
// endpoint has 10 seconds; the job is cut at 30).
const WebhookLease = time.Minute

// WebhookSecretGrace is how long a rotated-out secret still signs each
// request beside the new one, so that no delivery still being retried is
// lost to a receiver that has not switched yet (docs/webhooks.md).
const WebhookSecretGrace = 24 * time.Hour

// Errors about webhook deliveries.
var (
	// ErrWebhookDone: the delivery is delivered or failed (a late or
	// duplicate job).
	ErrWebhookDone = errors.New("the webhook delivery is already delivered or failed")
	// ErrWebhookBusy: another job holds the delivery's lease.
	ErrWebhookBusy = errors.New("the webhook delivery is being sent")
)

// WebhookNotDue is ClaimWebhookDelivery's answer for a delivery whose next
// attempt is later (a job queued at start for a delivery in its backoff).
type WebhookNotDue struct{ At time.Time }

func (e *WebhookNotDue) Error() string {
	return "the webhook delivery's next attempt is at " + e.At.UTC().Format(time.RFC3339)
}

// WebhookEndpoint is one of the reseller's endpoints. Its secret is sealed
// at rest; WebhookSecrets opens it for the sender only.
type WebhookEndpoint struct {
	ID              int64      `gorm:"primaryKey"`
	URL             string     `gorm:"column:url"`
	SecretEnc       string     `gorm:"column:secret_enc"`
	PrevSecretEnc   string     `gorm:"column:prev_secret_enc"`
	PrevSecretUntil *time.Time `gorm:"column:prev_secret_until"`
	Active          bool       `gorm:"column:active"`
	CreatedBy       *int64     `gorm:"column:created_by"`
	CreatedAt       time.Time  `gorm:"column:created_at"`
	UpdatedAt       time.Time  `gorm:"column:updated_at"`
	// Events are the event types the endpoint chose, sorted.
	Events []string `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (WebhookEndpoint) TableName() string { return "webhook_endpoints" }

type webhookEndpointEvent struct {
	EndpointID int64  `gorm:"column:endpoint_id;primaryKey"`
	EventType  string `gorm:"column:event_type;primaryKey"`
}

func (webhookEndpointEvent) TableName() string { return "webhook_endpoint_events" }

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID             int64        `gorm:"primaryKey"`
	EndpointID     int64        `gorm:"column:endpoint_id"`
	EventID        string       `gorm:"column:event_id"`
	EventType      string       `gorm:"column:event_type"`
	Payload        string       `gorm:"column:payload"`
	State          WebhookState `gorm:"column:state"`
	Attempts       int          `gorm:"column:attempts"`
	NextAttemptAt  time.Time    `gorm:"column:next_attempt_at"`
	FirstAttemptAt *time.Time   `gorm:"column:first_attempt_at"`
	LastStatus     int          `gorm:"column:last_status"`
	LastLatencyMS  int64        `gorm:"column:last_latency_ms"`
	LastError      string       `gorm:"column:last_error"`
	CreatedAt      time.Time    `gorm:"column:created_at"`
	UpdatedAt      time.Time    `gorm:"column:updated_at"`
	DeliveredAt    *time.Time   `gorm:"column:delivered_at"`
}

// TableName implements gorm's Tabler.
func (WebhookDelivery) TableName() string { return "webhook_deliveries" }

// WebhookAttempt is one attempt of a delivery, as the endpoint's page
// lists it.
type WebhookAttempt struct {
	ID          int64     `gorm:"primaryKey"`
	DeliveryID  int64     `gorm:"column:delivery_id"`
	EndpointID  int64     `gorm:"column:endpoint_id"`
	AttemptedAt time.Time `gorm:"column:attempted_at"`
	StatusCode  int       `gorm:"column:status_code"`
	LatencyMS   int64     `gorm:"column:latency_ms"`
	Error       string    `gorm:"column:error"`
	// EventType and EventID are the delivery's (filled by WebhookAttempts).
	EventType string `gorm:"->;column:event_type"`
	EventID   string `gorm:"->;column:event_id"`
}

// TableName implements gorm's Tabler.
func (WebhookAttempt) TableName() string { return "webhook_attempts" }

// CreateWebhookEndpoint stores an endpoint at url (already validated by the
// caller) for events, with secret sealed, and audits it, in one
// transaction.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, actor Actor, url string, events []string, secret string) (*WebhookEndpoint, error) {
	if len(events) == 0 || secret == "" {
		return nil, errors.New("store: a webhook endpoint needs events and a secret")
	}
	sealed, err := s.cipher.Seal(secret)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ep := &WebhookEndpoint{URL: url, SecretEnc: sealed, Active: true, CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
	events = sortedUnique(events)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(ep).Error; err != nil {
			return fmt.Errorf("store: create webhook endpoint: %w", err)
		}
		for _, ev := range events {
			if err := tx.Create(&webhookEndpointEvent{EndpointID: ep.ID, EventType: ev}).Error; err != nil {
				return fmt.Errorf("store: create webhook endpoint: event %q: %w", ev, err)
			}
		}
		return s.audit(tx, actor, "webhook.create", webhookTarget(ep), strings.Join(events, ", "))
	})
	if err != nil {
		return nil, err
	}
	ep.Events = events
	return ep, nil
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func webhookTarget(ep *WebhookEndpoint) string {
	return fmt.Sprintf("webhook endpoint %d (%s)", ep.ID, ep.URL)
}

// WebhookEndpoints returns every endpoint, oldest first, with its events.
func (s *Store) WebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	var eps []WebhookEndpoint
	if err := s.db.WithContext(ctx).Order("id").Find(&eps).Error; err != nil {
		return nil, fmt.Errorf("store: webhook endpoints: %w", err)
	}
	var evs []webhookEndpointEvent
	if err := s.db.WithContext(ctx).Order("endpoint_id, event_type").Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("store: webhook endpoints: %w", err)
	}
	byID := map[int64][]string{}
	for _, e := range evs {
		byID[e.EndpointID] = append(byID[e.EndpointID], e.EventType)
	}
	for i := range eps {
		eps[i].Events = byID[eps[i].ID]
	}
	return eps, nil
}

// WebhookEndpointByID returns the endpoint id with its events, or
// ErrNotFound.
func (s *Store) WebhookEndpointByID(ctx context.Context, id int64) (*WebhookEndpoint, error) {
	var ep WebhookEndpoint
	if err := s.db.WithContext(ctx).First(&ep, id).Error; err != nil {
		return nil, notFound(err)
	}
	if err := s.db.WithContext(ctx).Model(&webhookEndpointEvent{}).Where("endpoint_id = ?", id).
		Order("event_type").Pluck("event_type", &ep.Events).Error; err != nil {
		return nil, fmt.Errorf("store: webhook endpoint: %w", err)
	}
	return &ep, nil
}

// DeleteWebhookEndpoint deletes the endpoint id, its deliveries and their
// attempts (jobs still queued for them find nothing to do), and audits it.
// ErrNotFound when there is none.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, actor Actor, id int64) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ep WebhookEndpoint
		if err := tx.First(&ep, id).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Delete(&WebhookEndpoint{}, id).Error; err != nil {
			return fmt.Errorf("store: delete webhook endpoint: %w", err)
		}
		return s.audit(tx, actor, "webhook.delete", webhookTarget(&ep), "")
	})
}

// RotateWebhookSecret gives the endpoint id the secret next; the current
// one keeps signing beside it for WebhookSecretGrace. ErrNotFound when
// there is no such endpoint.
func (s *Store) RotateWebhookSecret(ctx context.Context, actor Actor, id int64, next string) error {
	sealed, err := s.cipher.Seal(next)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ep WebhookEndpoint
		if err := tx.First(&ep, id).Error; err != nil {
			return notFound(err)
		}
		now := s.now()
		until := now.Add(WebhookSecretGrace)
		res := tx.Model(&WebhookEndpoint{}).Where("id = ? AND secret_enc = ?", id, ep.SecretEnc).Updates(map[string]any{
			"secret_enc": sealed, "prev_secret_enc": ep.SecretEnc, "prev_secret_until": until, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("store: rotate webhook secret: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return errors.New("store: rotate webhook secret: the endpoint changed meanwhile")
		}
		return s.audit(tx, actor, "webhook.rotate", webhookTarget(&ep), "new secret; the previous one signs too until "+until.Format(time.RFC3339))
	})
}

// WebhookSecrets opens the endpoint's secret, and the previous one while
// its grace lasts: what each request is signed with.
func (s *Store) WebhookSecrets(ep *WebhookEndpoint) (current []byte, previous [][]byte, err error) {
	cur, err := s.cipher.Open(ep.SecretEnc)
	if err != nil {
		return nil, nil, fmt.Errorf("store: webhook endpoint %d's secret: %w", ep.ID, err)
	}
	if ep.PrevSecretEnc != "" && ep.PrevSecretUntil != nil && ep.PrevSecretUntil.After(s.now()) {
		prev, err := s.cipher.Open(ep.PrevSecretEnc)
		if err != nil {
			return nil, nil, fmt.Errorf("store: webhook endpoint %d's previous secret: %w", ep.ID, err)
		}
		previous = append(previous, []byte(prev))
	}
	return []byte(cur), previous, nil
}

// webhookSecrets lists the endpoints' sealed secrets for RotateSecrets.
func webhookSecrets(tx *gorm.DB) ([]sealedValue, error) {
	var eps []WebhookEndpoint
	if err := tx.Select("id, secret_enc, prev_secret_enc").Order("id").Find(&eps).Error; err != nil {
		return nil, err
	}
	var out []sealedValue
	for _, ep := range eps {
		out = append(out, sealedValue{"webhook_endpoints", "secret_enc", ep.ID, ep.SecretEnc})
		if ep.PrevSecretEnc != "" {
			out = append(out, sealedValue{"webhook_endpoints", "prev_secret_enc", ep.ID, ep.PrevSecretEnc})
		}
	}
	return out, nil
}

// NewWebhookEvent is the input of EnqueueWebhookEvent: one event, encoded.
type NewWebhookEvent struct {
	ID      string // the event id (webhookout.NewEventID), the same on every retry
	Type    string
	Payload []byte // the whole JSON body
	// EndpointID, when not 0, queues the event for that endpoint alone,
	// whatever its events (the "send test event" button); else for every
	// active endpoint that chose Type.
	EndpointID int64
}

// EnqueueWebhookEvent writes one queued delivery of ev per endpoint that
// should get it, in tx, the transaction of the event's cause, and returns
// their ids (none when no endpoint wants it); the caller inserts their
// jobs in the same tx. An event id queued again for an endpoint is not
// queued twice.
func (s *Store) EnqueueWebhookEvent(ctx context.Context, tx *sql.Tx, ev NewWebhookEvent) ([]int64, error) {
	if ev.ID == "" || ev.Type == "" || len(ev.Payload) < 2 {
		return nil, errors.New("store: a webhook event needs an id, a type and a payload")
	}
	now := s.now()
	q := `INSERT INTO webhook_deliveries
		(endpoint_id, event_id, event_type, payload, state, attempts, next_attempt_at, last_status, last_latency_ms, last_error, created_at, updated_at)
		SELECT e.id, $1, $2, $3, 'queued', 0, $4, 0, 0, '', $4, $4 FROM webhook_endpoints e
		WHERE e.active AND EXISTS (SELECT 1 FROM webhook_endpoint_events ee WHERE ee.endpoint_id = e.id AND ee.event_type = $2)
		ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id`
	args := []any{ev.ID, ev.Type, string(ev.Payload), now}
	if ev.EndpointID != 0 {
		q = `INSERT INTO webhook_deliveries
		(endpoint_id, event_id, event_type, payload, state, attempts, next_attempt_at, last_status, last_latency_ms, last_error, created_at, updated_at)
		SELECT e.id, $1, $2, $3, 'queued', 0, $4, 0, 0, '', $4, $4 FROM webhook_endpoints e WHERE e.id = $5
		ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id`
		args = append(args, ev.EndpointID)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: queue webhook event: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: queue webhook event: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: queue webhook event: %w", err)
	}
	return ids, nil
}

// ClaimWebhookDelivery takes the delivery id for one attempt, by a
// conditional update (queued and due → sending, one more attempt), and
// returns it with its endpoint. A row left "sending" longer than
// WebhookLease is claimed again: the job that claimed it was cut short (a
// crash), and the event is sent again with the same id (at least once;
// receivers skip a repeat by its id). ErrWebhookBusy within the lease,
// *WebhookNotDue before the next attempt's time, ErrWebhookDone when it is
// delivered or failed, ErrNotFound when it is gone (its endpoint deleted).
func (s *Store) ClaimWebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, *WebhookEndpoint, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Exec(`UPDATE webhook_deliveries SET state = 'sending', attempts = attempts + 1,
		first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ?
		WHERE id = ? AND ((state = 'queued' AND next_attempt_at <= ?) OR (state = 'sending' AND updated_at < ?))`,
		now, now, id, now, now.Add(-WebhookLease))
	if res.Error != nil {
		return nil, nil, fmt.Errorf("store: claim webhook delivery: %w", res.Error)
	}
	var d WebhookDelivery
	if err := s.db.WithContext(ctx).First(&d, id).Error; err != nil {
		return nil, nil, notFound(err)
	}
	if res.RowsAffected != 1 {
		switch d.State {
		case WebhookSending:
			return nil, nil, ErrWebhookBusy
		case WebhookQueued:
			return nil, nil, &WebhookNotDue{At: d.NextAttemptAt}
		}
		return nil, nil, ErrWebhookDone
	}
	ep, err := s.WebhookEndpointByID(ctx, d.EndpointID)
	if err != nil {
		return nil, nil, err
	}
	return &d, ep, nil
}

// WebhookOutcome is what an attempt leaves of its delivery: delivered,
// queued again for Next, or failed.
type WebhookOutcome struct {
	State WebhookState // WebhookDelivered, WebhookQueued or WebhookFailed
	Next  time.Time    // with WebhookQueued: when the next attempt is due
}

// RecordWebhookAttempt stores attempt a of the delivery id (claimed:
// "sending") and moves the delivery to out, in one transaction.
// ErrWebhookDone when the delivery is no longer "sending" (another job
// took it over after the lease), ErrNotFound when it is gone.
func (s *Store) RecordWebhookAttempt(ctx context.Context, id int64, a WebhookAttempt, out WebhookOutcome) error {
	now := s.now()
	set := map[string]any{"state": out.State, "last_status": a.StatusCode, "last_latency_ms": a.LatencyMS,
		"last_error": clip(a.Error), "updated_at": now}
	switch out.State {
	case WebhookDelivered:
		set["delivered_at"] = now
		set["last_error"] = ""
	case WebhookQueued:
		set["next_attempt_at"] = out.Next.UTC()
	case WebhookFailed:
	default:
		return fmt.Errorf("store: a webhook attempt cannot leave its delivery %q", out.State)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var d WebhookDelivery
		if err := tx.First(&d, id).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&WebhookDelivery{}).Where("id = ? AND state = ?", id, WebhookSending).Updates(set)
		if res.Error != nil {
			return fmt.Errorf("store: record webhook attempt: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrWebhookDone
		}
		a.ID, a.DeliveryID, a.EndpointID, a.Error = 0, id, d.EndpointID, clip(a.Error)
		if a.AttemptedAt.IsZero() {
			a.AttemptedAt = now
		}
		return tx.Omit("event_type", "event_id").Create(&a).Error
	})
}

// WebhookDeliveryByID returns the delivery id, or ErrNotFound.
func (s *Store) WebhookDeliveryByID(ctx context.Context, id int64) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := s.db.WithContext(ctx).First(&d, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// WebhookDeliveries returns the endpoint's latest deliveries, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]WebhookDelivery, error) {
	var ds []WebhookDelivery
	err := s.db.WithContext(ctx).Where("endpoint_id = ?", endpointID).Order("id DESC").Limit(limit).Find(&ds).Error
	if err != nil {
		return nil, fmt.Errorf("store: webhook deliveries: %w", err)
	}
	return ds, nil
}

// WebhookAttempts returns the endpoint's latest attempts, newest first,
// each with its event's type and id.
func (s *Store) WebhookAttempts(ctx context.Context, endpointID int64, limit int) ([]WebhookAttempt, error) {
	var as []WebhookAttempt
	err := s.db.WithContext(ctx).Table("webhook_attempts a").
		Select("a.*, d.event_type, d.event_id").Joins("JOIN webhook_deliveries d ON d.id = a.delivery_id").
		Where("a.endpoint_id = ?", endpointID).Order("a.id DESC").Limit(limit).Find(&as).Error
	if err != nil {
		return nil, fmt.Errorf("store: webhook attempts: %w", err)
	}
	return as, nil
}

// UnsentWebhookDeliveryIDs returns the deliveries still on their way
// (queued, or left sending), oldest first: what a start queues jobs for,
// so that none waits on a job a crash cut short.
func (s *Store) UnsentWebhookDeliveryIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&WebhookDelivery{}).Where("state IN ?", []WebhookState{WebhookQueued, WebhookSending}).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: unsent webhook deliveries: %w", err)
	}
	return ids, nil
}

// runThen runs each hook with v in the GORM transaction tx's *sql.Tx: the
// `then` of a change whose follow-ups (a webhook event, a mail) must commit
// with it.
func runThen[T any](tx *gorm.DB, then []func(*sql.Tx, T) error, v T) error {
	if len(then) == 0 {
		return nil
	}
	sqlTx, err := sqlTxOf(tx)
	if err != nil {
		return err
	}
	for _, fn := range then {
		if fn == nil {
			continue
		}
		if err := fn(sqlTx, v); err != nil {
			return err
		}
	}
	return nil
}

// thenChannel reads channel id again in tx and runs the hooks with it.
func (s *Store) thenChannel(tx *gorm.DB, id int64, then []func(*sql.Tx, *Channel) error) error {
	if len(then) == 0 {
		return nil
	}
	var ch Channel
	if err := tx.First(&ch, id).Error; err != nil {
		return notFound(err)
	}
	return runThen(tx, then, &ch)
}

package provision

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"whapidesk/internal/i18n"
	"whapidesk/internal/webhookout"
	"whapidesk/models"
)

// Webhooks out (issue 16, point 5): the reseller's endpoints, and the
// events sent to them. An event is written here, in the transaction of its
// cause (queueEvent): one delivery row per active endpoint that chose its
// type, each with its job, so a delivery exists if and only if the cause
// committed. The job queue sends it (jobs, deliver_webhook) with
// internal/webhookout.

// WebhookQueue queues the job that sends a delivery, in the transaction
// that wrote it; *jobs.Queue is one (InsertWebhookTx).
type WebhookQueue interface {
	InsertWebhookTx(ctx context.Context, tx *sql.Tx, deliveryID int64) error
}

// SetWebhookQueue sets the queue webhook deliveries are sent through.
// Without one, deliveries are written and stay queued (a start with a
// queue sends them).
func (s *Service) SetWebhookQueue(q WebhookQueue) { s.hooks = q }

// SetWebhookAllowPrivate lets endpoints on private, loopback and
// link-local addresses, and plain http, be registered
// (WHAPIDESK_WEBHOOK_ALLOW_PRIVATE: tests and the demo).
func (s *Service) SetWebhookAllowPrivate(allow bool) { s.hooksPrivate = allow }

// WebhookEventTypes are the events an endpoint may choose, in the order
// the pages list them.
func WebhookEventTypes() []string { return webhookout.EventTypes() }

// APIChannel is a channel as the API shows it, to its owner and to admins
// (and in a webhook's data): our id and what a person needs, never WHAPI's
// id, token or mode.
type APIChannel struct {
	ID            int64   `json:"id"`
	Name          string  `json:"name"`
	Phone         string  `json:"phone"`
	Status        string  `json:"status"`
	Stopped       bool    `json:"stopped"`
	Linked        bool    `json:"linked"`
	ActiveTill    *string `json:"active_till"`
	DaysAllocated int64   `json:"days_allocated"`
	CreatedAt     string  `json:"created_at"`
}

// ChannelJSON is ch as the API shows it.
func ChannelJSON(ch *models.Channel) APIChannel {
	out := APIChannel{
		ID: ch.ID, Name: ch.Name, Phone: ch.Phone, Status: string(ch.Status), Stopped: IsStopped(ch), Linked: ch.Linked,
		DaysAllocated: ch.DaysAllocated, CreatedAt: jsonTime(ch.CreatedAt),
	}
	if ch.ActiveTill != nil {
		t := jsonTime(*ch.ActiveTill)
		out.ActiveTill = &t
	}
	return out
}

// APIUser is a user as the API shows it (and customer.created's data).
type APIUser struct {
	ID             int64        `json:"id"`
	Email          string       `json:"email"`
	Name           string       `json:"name"`
	Role           string       `json:"role"`
	AllocationMode string       `json:"allocation_mode"`
	DayBalance     int64        `json:"day_balance"`
	Disabled       bool         `json:"disabled"`
	Plan           *APIUserPlan `json:"plan"`
}

// APIUserPlan is a user's active plan as the API shows it.
type APIUserPlan struct {
	ID               int64  `json:"id"`
	Name             string `json:"name"`
	MaxChannels      int64  `json:"max_channels"`
	DaysPerPeriod    int64  `json:"days_per_period"`
	PeriodDays       int64  `json:"period_days"`
	Status           string `json:"status"`
	CurrentPeriodEnd string `json:"current_period_end"`
}

// UserJSON is u, with its active plan sub (nil: none), as the API shows it.
func UserJSON(u *models.User, sub *models.Subscription) APIUser {
	out := APIUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), AllocationMode: string(u.AllocationMode),
		DayBalance: u.DayBalance, Disabled: u.Disabled}
	if sub != nil {
		out.Plan = &APIUserPlan{ID: sub.Plan.ID, Name: sub.Plan.Name, MaxChannels: sub.Plan.MaxChannels,
			DaysPerPeriod: sub.Plan.DaysPerPeriod, PeriodDays: sub.Plan.PeriodDays, Status: string(sub.Status),
			CurrentPeriodEnd: jsonTime(sub.CurrentPeriodEnd)}
	}
	return out
}

// jsonTime is the API's time: RFC 3339 in UTC.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// queueEvent writes the event typ with data (a JSON object: {"channel": …}
// or {"customer": …}) as one delivery per active endpoint that chose typ,
// with their jobs, in tx — the transaction of the event's cause. Every
// endpoint gets the same event id, the one receivers dedupe on. The
// history's channel.linked, channel.unlinked and channel.expiring call it
// where their causes commit (or through channelEvent).
func (s *Service) queueEvent(ctx context.Context, tx *sql.Tx, typ string, data any) error {
	return s.queueEventFor(ctx, tx, 0, typ, data)
}

// queueEventFor is queueEvent; endpointID, when not 0, sends the event to
// that endpoint alone (the test event).
func (s *Service) queueEventFor(ctx context.Context, tx *sql.Tx, endpointID int64, typ string, data any) error {
	return s.queueEventWithID(ctx, tx, endpointID, webhookout.NewEventID(), typ, data)
}

// queueEventWithID is queueEventFor with the event's id given.
func (s *Service) queueEventWithID(ctx context.Context, tx *sql.Tx, endpointID int64, id, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("provision: webhook event %s: %w", typ, err)
	}
	ev := webhookout.Event{ID: id, Type: typ, Time: s.now(), Data: raw}
	body, err := ev.Encode()
	if err != nil {
		return fmt.Errorf("provision: webhook event %s: %w", typ, err)
	}
	ids, err := s.store.EnqueueWebhookEvent(ctx, tx, models.NewWebhookEvent{ID: ev.ID, Type: typ, Payload: body, EndpointID: endpointID})
	if err != nil || s.hooks == nil {
		return err
	}
	for _, id := range ids {
		if err := s.hooks.InsertWebhookTx(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// channelEvent is a models hook (the `then` of ConfirmCreate,
// ConfirmExtend, ConfirmDelete, MarkChannelGone) that queues the event typ
// of the channel as its transaction left it.
func (s *Service) channelEvent(ctx context.Context, typ string) func(tx *sql.Tx, ch *models.Channel) error {
	return func(tx *sql.Tx, ch *models.Channel) error {
		return s.queueEvent(ctx, tx, typ, map[string]any{"channel": ChannelJSON(ch)})
	}
}

// channelFollowUp is the store's follow-up of every observed change of a
// channel (models.SetChannelFollowUp), in the change's transaction: a
// phone linked or unlinked, however it was seen (WHAPI's webhook, a poll,
// a sync), is channel.linked or channel.unlinked with the channel as the
// change left it.
func (s *Service) channelFollowUp(ctx context.Context, tx *sql.Tx, ev models.ChannelEvent, ch *models.Channel) error {
	if !ev.LinkChanged() {
		return nil
	}
	typ := webhookout.ChannelUnlinked
	if ev.NewLinked {
		typ = webhookout.ChannelLinked
	}
	return s.queueEvent(ctx, tx, typ, map[string]any{"channel": ChannelJSON(ch)})
}

// queueEventOnce is queueEvent for an event a periodic job finds again on
// every run (channel.expiring): its id is made from typ and key (the
// subject entity and period), so that a second run queues nothing for an
// endpoint that has it already.
func (s *Service) queueEventOnce(ctx context.Context, tx *sql.Tx, typ, key string, data any) error {
	sum := sha256.Sum256([]byte(typ + ":" + key))
	return s.queueEventWithID(ctx, tx, 0, "evt_"+base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]), typ, data)
}

// customerEvent queues customer.created for u, when u is a customer.
func (s *Service) customerEvent(ctx context.Context) func(tx *sql.Tx, u *models.User) error {
	return func(tx *sql.Tx, u *models.User) error {
		if u.Role != models.RoleCustomer {
			return nil
		}
		return s.queueEvent(ctx, tx, webhookout.CustomerCreated, map[string]any{"customer": UserJSON(u, nil)})
	}
}

// ErrWebhookNoEvents: an endpoint must choose at least one event.
var ErrWebhookNoEvents = errors.New("choose at least one event")

// CreateWebhookEndpoint registers an endpoint at rawURL for events and
// returns it with its secret, which is shown this once. A bad address or
// event comes back as FieldErrors{"url"|"events": …}.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, actor models.Actor, rawURL string, events []string) (*models.WebhookEndpoint, string, error) {
	fe := FieldErrors{}
	u, err := webhookout.ValidateURL(strings.TrimSpace(rawURL), s.hooksPrivate)
	if err != nil {
		fe["url"] = webhookURLMsg(ctx, err)
	}
	if msg := checkEvents(ctx, events); msg != "" {
		fe["events"] = msg
	}
	if len(fe) > 0 {
		return nil, "", fe
	}
	secret := webhookout.NewSecret()
	ep, err := s.store.CreateWebhookEndpoint(ctx, actor, u.String(), events, secret)
	if err != nil {
		return nil, "", err
	}
	return ep, secret, nil
}

// webhookURLMsg is webhookout.ValidateURL's refusal in ctx's language.
func webhookURLMsg(ctx context.Context, err error) string {
	var ue *webhookout.URLError
	if !errors.As(err, &ue) || ue.Problem == "" {
		return err.Error()
	}
	args := []any{"Max", plainNumber(ctx, webhookout.MaxURLLength), "Scheme", i18n.From(ctx).IsolateRTL(ue.Arg)}
	if ue.Problem == webhookout.URLPrivate {
		args = append(args, "Kind", i18n.T(ctx, "prov.webhook.reason."+reasonKey(ue.Arg)))
	}
	return i18n.T(ctx, "prov.webhook.url."+ue.Problem, args...)
}

// reasonKey is the catalog key of a kind of address
// (webhookout.PrivateReasons): "shared (CGNAT)" is shared_cgnat.
func reasonKey(reason string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(strings.ToLower(reason), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(w)
	}
	return b.String()
}

// checkEvents says what is wrong with an endpoint's events ("" = nothing).
func checkEvents(ctx context.Context, events []string) string {
	if len(events) == 0 {
		return fieldMsg(ctx, ErrWebhookNoEvents)
	}
	known := webhookout.EventTypes()
	for _, e := range events {
		if !slices.Contains(known, e) {
			return i18n.T(ctx, "prov.webhook.unknown_event", "Event", quoted(ctx, e), "Events", strings.Join(known, ", "))
		}
	}
	return ""
}

// RotateWebhookSecret gives the endpoint id a new secret and returns it,
// shown this once; the previous one signs beside it for
// models.WebhookSecretGrace.
func (s *Service) RotateWebhookSecret(ctx context.Context, actor models.Actor, id int64) (string, error) {
	secret := webhookout.NewSecret()
	if err := s.store.RotateWebhookSecret(ctx, actor, id, secret); err != nil {
		return "", err
	}
	return secret, nil
}

// DeleteWebhookEndpoint deletes the endpoint id and what was queued for it.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, actor models.Actor, id int64) error {
	return s.store.DeleteWebhookEndpoint(ctx, actor, id)
}

// SendTestWebhook queues a webhook.test event (data {}) for the endpoint
// id alone, whatever events it chose. models.ErrNotFound when there is no
// such endpoint.
func (s *Service) SendTestWebhook(ctx context.Context, actor models.Actor, id int64) error {
	if _, err := s.store.WebhookEndpointByID(ctx, id); err != nil {
		return err
	}
	err := s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
		return s.queueEventFor(ctx, tx, id, webhookout.WebhookTest, struct{}{})
	})
	if err != nil {
		return err
	}
	return s.store.RecordAudit(ctx, actor, "webhook.test", fmt.Sprintf("webhook endpoint %d", id), "test event queued")
}

// WebhookAllowPrivate reports whether endpoints may be private addresses.
func (s *Service) WebhookAllowPrivate() bool { return s.hooksPrivate }

package webhookout

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The event types an endpoint can subscribe to. These strings are part of
// the receivers' contract: never renamed.
const (
	ChannelCreated  = "channel.created"
	ChannelLinked   = "channel.linked"   // a phone was linked (the QR scanned)
	ChannelUnlinked = "channel.unlinked" // the phone was unlinked or the line dropped
	ChannelExpiring = "channel.expiring" // paid time ends soon and no top-up will extend it
	ChannelExtended = "channel.extended" // days were added
	ChannelDeleted  = "channel.deleted"
	CustomerCreated = "customer.created"
	// WebhookTest is the "send test event" button's event. It is sent
	// to the endpoint whatever events it chose.
	WebhookTest = "webhook.test"
)

// EventTypes are the types an endpoint can choose, in the order a form lists
// them (WebhookTest is not among them: it is always sent when asked for).
func EventTypes() []string {
	return []string{ChannelCreated, ChannelLinked, ChannelUnlinked, ChannelExpiring, ChannelExtended, ChannelDeleted, CustomerCreated}
}

// KnownType reports whether t is one of EventTypes or WebhookTest.
func KnownType(t string) bool {
	return t == WebhookTest || slices.Contains(EventTypes(), t)
}

// Event is one thing that happened, as a delivery's body carries it:
//
//	{"id":"evt_…","type":"channel.linked","created_at":"2026-12-07T14:03:12Z","data":{…}}
//
// Data is the channel or the customer as the API shows them (the caller
// builds it); it must be a JSON object. ID is the outbox's unique id of the
// event, the same on every retry (it is also the Webhook-Id header).
type Event struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"created_at"`
	Data json.RawMessage `json:"data"`
}

// NewEventID returns a new random event id, "evt_" and 26 base32
// characters (130 bits), for callers that have no id of their own.
func NewEventID() string { return "evt_" + rand.Text() }

// maxIDLength bounds an event id: it travels in a header.
const maxIDLength = 200

// Encode returns the event's body as it is sent and signed: the time in UTC
// (RFC 3339, to the second), data as given (an empty Data becomes {}).
func (e Event) Encode() ([]byte, error) {
	if e.ID == "" || len(e.ID) > maxIDLength {
		return nil, fmt.Errorf("webhookout: event id must be 1 to %d characters", maxIDLength)
	}
	for _, r := range e.ID {
		if r < 0x21 || r > 0x7e {
			return nil, errors.New("webhookout: event id must be printable ASCII without spaces (it is sent as the Webhook-Id header)")
		}
	}
	if !KnownType(e.Type) {
		return nil, fmt.Errorf("webhookout: unknown event type %q", e.Type)
	}
	if e.Time.IsZero() {
		return nil, errors.New("webhookout: event has no time")
	}
	data := bytes.TrimSpace(e.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if data[0] != '{' || !json.Valid(data) {
		return nil, errors.New("webhookout: event data must be a JSON object")
	}
	return json.Marshal(struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Time string          `json:"created_at"`
		Data json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.Time.UTC().Format(time.RFC3339), data})
}

// MarshalJSON encodes the event as Encode does, so an Event put in a larger
// JSON document (the endpoint page's log, a test) looks as it was sent.
func (e Event) MarshalJSON() ([]byte, error) { return e.Encode() }

package whapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

// ErrBadWebhook means a webhook body is not an event as WHAPI sends them.
var ErrBadWebhook = errors.New("whapi: malformed webhook payload")

// WebhookPayload is one event WHAPI sends to a webhook in mode body
// (reference §4): {"<payload>": …, "event": {"type", "event"},
// "channel_id"}. Of the payloads, whapidesk reads the channel's status
// (channel post), its QR code (channel patch) and the linked account
// (users post and delete); the event of any other type is named and
// nothing more is read.
type WebhookPayload struct {
	// Type and Method name the event, e.g. HookChannel and HookPost.
	Type, Method string
	// ChannelID is WHAPI's id of the channel ("" when absent).
	ChannelID string
	// Health is the new status, on channel post.
	Health *Health
	// QR is the new QR code, on channel patch.
	QR *QR
	// User is the account, on users post and delete.
	User *WAUser
}

// maxEventName bounds an event type or method (WHAPI's are short words).
const maxEventName = 32

// ParseWebhook reads a webhook body. The event's method is read from
// "event" as WHAPI's examples send it, or from "method" as its OpenAPI
// Event schema names it (the docs disagree; both are accepted, and a body
// with both must agree). The payload of an event whapidesk reads must be
// there and of the documented shape. Anything else is ErrBadWebhook.
func ParseWebhook(body []byte) (*WebhookPayload, error) {
	var env map[string]json.RawMessage
	if err := strictJSON(body, &env); err != nil || env == nil {
		return nil, badWebhook("not a JSON object")
	}
	var ev map[string]json.RawMessage
	if err := strictJSON(env["event"], &ev); err != nil || ev == nil {
		return nil, badWebhook(`"event" is not an object`)
	}
	p := &WebhookPayload{}
	var ok bool
	if p.Type, ok = eventName(ev["type"]); !ok || p.Type == "" {
		return nil, badWebhook(`"event.type" is not a short word`)
	}
	m1, ok1 := eventName(ev["event"])
	m2, ok2 := eventName(ev["method"])
	switch {
	case !ok1 || !ok2:
		return nil, badWebhook(`"event.event" is not a short word`)
	case m1 != "" && m2 != "" && m1 != m2:
		return nil, badWebhook(`"event.event" and "event.method" disagree`)
	case m1 == "" && m2 == "":
		return nil, badWebhook("the event has no method")
	}
	if p.Method = m1; p.Method == "" {
		p.Method = m2
	}
	if raw, present := env["channel_id"]; present {
		if err := strictJSON(raw, &p.ChannelID); err != nil || len(p.ChannelID) > 64 {
			return nil, badWebhook(`"channel_id" is not a channel id`)
		}
	}
	switch {
	case p.Type == HookChannel && p.Method == HookPost:
		if err := strictJSON(env["health"], &p.Health); err != nil || p.Health == nil || p.Health.Status.Text == "" {
			return nil, badWebhook(`"health" is not a status`)
		}
	case p.Type == HookChannel && p.Method == HookPatch:
		if err := strictJSON(env["qr"], &p.QR); err != nil || p.QR == nil || p.QR.Status == "" {
			return nil, badWebhook(`"qr" is not a QR code`)
		}
	case p.Type == HookUsers && (p.Method == HookPost || p.Method == HookDelete):
		if err := strictJSON(env["user"], &p.User); err != nil || p.User == nil || p.User.ID == "" {
			return nil, badWebhook(`"user" is not an account`)
		}
	}
	return p, nil
}

// strictJSON decodes one JSON value that fills raw entirely; a missing
// value (nil raw) or null is an error.
func strictJSON(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("missing")
	}
	return json.Unmarshal(raw, v)
}

// eventName reads an optional event name: absent is "", ok; a string of
// at most maxEventName lower-case letters or underscores is ok.
func eventName(raw json.RawMessage) (string, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || len(s) > maxEventName {
		return "", false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return "", false
		}
	}
	return s, true
}

func badWebhook(text string) error {
	return &callError{op: "webhook", text: text, kind: ErrBadWebhook}
}

// At returns when the gate took this status: start_at + uptime, on the
// gate's clock, to the second. ok is false when start_at is missing or
// zero (a channel with no running instance reports none) or either is out
// of range.
func (h Health) At() (t time.Time, ok bool) {
	const maxEpoch, maxUptime = 1e11, 1e10 // the year 5138; 300 years
	if !(h.StartAt > 0 && h.StartAt < maxEpoch) || !(h.Uptime >= 0 && h.Uptime < maxUptime) {
		return time.Time{}, false
	}
	return time.Unix(int64(math.Floor(h.StartAt+h.Uptime)), 0).UTC(), true
}

// Phone returns the account's number, digits only, from its WhatsApp id
// ("61371989950", or "61371989950@s.whatsapp.net"); "" when the id is not
// a phone number of 7 to 15 digits.
func (u WAUser) Phone() string {
	id, _, _ := strings.Cut(u.ID, "@")
	if validPhone(id) {
		return id
	}
	return ""
}

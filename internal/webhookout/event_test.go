package webhookout_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"

	"whapidesk/internal/webhookout"
)

func TestEventTypes(t *testing.T) {
	want := []string{"channel.created", "channel.linked", "channel.unlinked", "channel.expiring",
		"channel.extended", "channel.deleted", "customer.created"}
	if got := webhookout.EventTypes(); !slices.Equal(got, want) {
		t.Errorf("EventTypes = %q, want %q", got, want)
	}
	for _, ty := range append(want, "webhook.test") {
		if !webhookout.KnownType(ty) {
			t.Errorf("KnownType(%q) = false", ty)
		}
	}
	for _, ty := range []string{"", "channel.*", "Channel.Created", "webhook.test "} {
		if webhookout.KnownType(ty) {
			t.Errorf("KnownType(%q) = true", ty)
		}
	}
}

func TestEventEncode(t *testing.T) {
	ev := webhookout.Event{
		ID:   "evt_7",
		Type: webhookout.CustomerCreated,
		Time: time.Date(2026, 12, 7, 15, 4, 5, 999, time.FixedZone("X", -5*3600)),
		Data: json.RawMessage(" {\"id\": 3,\n \"email\": \"a@example.com\"} "),
	}
	want := `{"id":"evt_7","type":"customer.created","created_at":"2026-12-07T20:04:05Z","data":{"id":3,"email":"a@example.com"}}`
	got, err := ev.Encode()
	if err != nil || string(got) != want {
		t.Errorf("Encode = %s, %v\nwant %s", got, err, want)
	}
	// Inside a larger document it looks the same.
	doc, err := json.Marshal(map[string]any{"event": ev})
	if err != nil || string(doc) != `{"event":`+want+`}` {
		t.Errorf("json.Marshal = %s, %v", doc, err)
	}
	ev.Data = nil
	if got, err := ev.Encode(); err != nil || string(got) != `{"id":"evt_7","type":"customer.created","created_at":"2026-12-07T20:04:05Z","data":{}}` {
		t.Errorf("Encode without data = %s, %v; want data {}", got, err)
	}
	if id := webhookout.NewEventID(); !regexp.MustCompile(`^evt_[A-Z2-7]{26}$`).MatchString(id) || id == webhookout.NewEventID() {
		t.Errorf("NewEventID = %q, want evt_ and 26 random base32 characters", id)
	}
}

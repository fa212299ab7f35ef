package models

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// An endpoint's secret is sealed at rest and opens with the store's key;
// an event is queued once per endpoint that chose it (and once however
// often its id is queued); a delivery is claimed once at a time, again
// only after its lease or once due, and settled only from "sending".
func TestWebhookEndpointsAndDeliveries(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	const secret = "whsec_test-secret-0123456789"
	ep, err := s.CreateWebhookEndpoint(ctx, SystemActor, "https://hooks.example.com/in", []string{"channel.deleted", "channel.created", "channel.created"}, secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ep.Events, ",") != "channel.created,channel.deleted" {
		t.Errorf("events %v", ep.Events)
	}
	other, err := s.CreateWebhookEndpoint(ctx, SystemActor, "https://crm.example.com/in", []string{"customer.created"}, "whsec_other")
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.DB().Raw("SELECT secret_enc FROM webhook_endpoints WHERE id = ?", ep.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, secret) || strings.Contains(raw, "test-secret") {
		t.Fatal("the secret is stored in the clear")
	}
	if _, err := s.CreateWebhookEndpoint(ctx, SystemActor, "https://x.example.com", []string{"channel.exploded"}, "whsec_x"); err == nil {
		t.Error("an unknown event type was stored")
	}

	var ids []int64
	for range 2 {
		if err := s.InSQLTx(ctx, func(tx *sql.Tx) error {
			got, err := s.EnqueueWebhookEvent(ctx, tx, NewWebhookEvent{ID: "evt_1", Type: "channel.created", Payload: []byte(`{"id":"evt_1"}`)})
			ids = append(ids, got...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("deliveries %v, want one (one endpoint chose the type, the event queued twice)", ids)
	}
	if ds, _ := s.WebhookDeliveries(ctx, other.ID, 10); len(ds) != 0 {
		t.Errorf("the endpoint that did not choose the type got %+v", ds)
	}
	// A cause that rolls back queues nothing.
	boom := errors.New("boom")
	if err := s.InSQLTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.EnqueueWebhookEvent(ctx, tx, NewWebhookEvent{ID: "evt_2", Type: "channel.deleted", Payload: []byte(`{}`)}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if ds, _ := s.WebhookDeliveries(ctx, ep.ID, 10); len(ds) != 1 {
		t.Fatalf("deliveries after a rollback: %+v", ds)
	}

	id := ids[0]
	d, gotEP, err := s.ClaimWebhookDelivery(ctx, id)
	if err != nil || d.State != WebhookSending || d.Attempts != 1 || gotEP.ID != ep.ID {
		t.Fatalf("claim: %+v %v", d, err)
	}
	cur, prev, err := s.WebhookSecrets(gotEP)
	if err != nil || string(cur) != secret || len(prev) != 0 {
		t.Fatalf("secrets %q %q %v", cur, prev, err)
	}
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); !errors.Is(err, ErrWebhookBusy) {
		t.Errorf("second claim: %v", err)
	}
	next := now.Add(time.Minute)
	if err := s.RecordWebhookAttempt(ctx, id, WebhookAttempt{StatusCode: 500, LatencyMS: 12, Error: "500"}, WebhookOutcome{State: WebhookQueued, Next: next}); err != nil {
		t.Fatal(err)
	}
	var notDue *WebhookNotDue
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); !errors.As(err, &notDue) || !notDue.At.Equal(next) {
		t.Errorf("claim before the next attempt: %v", err)
	}
	now = next
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); err != nil {
		t.Fatal(err)
	}
	// Left sending (a crash): claimed again after the lease, not before.
	now = now.Add(WebhookLease - time.Second)
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); !errors.Is(err, ErrWebhookBusy) {
		t.Errorf("claim within the lease: %v", err)
	}
	now = now.Add(2 * time.Second)
	d, _, err = s.ClaimWebhookDelivery(ctx, id)
	if err != nil || d.Attempts != 3 {
		t.Fatalf("claim after the lease: %+v %v", d, err)
	}
	if err := s.RecordWebhookAttempt(ctx, id, WebhookAttempt{StatusCode: 204, LatencyMS: 5}, WebhookOutcome{State: WebhookDelivered}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordWebhookAttempt(ctx, id, WebhookAttempt{StatusCode: 204}, WebhookOutcome{State: WebhookDelivered}); !errors.Is(err, ErrWebhookDone) {
		t.Errorf("a second record: %v", err)
	}
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); !errors.Is(err, ErrWebhookDone) {
		t.Errorf("claim of a delivered one: %v", err)
	}
	as, err := s.WebhookAttempts(ctx, ep.ID, 10)
	if err != nil || len(as) != 2 || as[0].StatusCode != 204 || as[1].StatusCode != 500 || as[0].EventID != "evt_1" {
		t.Errorf("attempts %+v %v", as, err)
	}

	// Rotation: the new secret signs, the old one too for the grace period.
	if err := s.RotateWebhookSecret(ctx, SystemActor, ep.ID, "whsec_next"); err != nil {
		t.Fatal(err)
	}
	ep2, _ := s.WebhookEndpointByID(ctx, ep.ID)
	cur, prev, _ = s.WebhookSecrets(ep2)
	if string(cur) != "whsec_next" || len(prev) != 1 || string(prev[0]) != secret {
		t.Errorf("after rotation: %q %q", cur, prev)
	}
	now = now.Add(WebhookSecretGrace + time.Second)
	if _, prev, _ = s.WebhookSecrets(ep2); len(prev) != 0 {
		t.Error("the old secret still signs after the grace period")
	}
	// Deleting the endpoint takes its deliveries with it.
	if err := s.DeleteWebhookEndpoint(ctx, SystemActor, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimWebhookDelivery(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("claim after the endpoint's deletion: %v", err)
	}
	if err := s.DeleteWebhookEndpoint(ctx, SystemActor, ep.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// rotate-key re-seals the endpoints' secrets (and a rotated-out one still
// in its grace) with the new key: they open with it afterwards.
func TestRotateSecretsReencryptsWebhookSecrets(t *testing.T) {
	s, db := newTestStore(t)
	ctx := t.Context()
	ep, err := s.CreateWebhookEndpoint(ctx, SystemActor, "https://hooks.example.com/in", []string{"channel.created"}, "whsec_first")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RotateWebhookSecret(ctx, SystemActor, ep.ID, "whsec_second"); err != nil {
		t.Fatal(err)
	}
	next, err := NewCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.RotateSecrets(ctx, next); err != nil || n != 2 {
		t.Fatalf("RotateSecrets = %d, %v; want the 2 webhook secrets", n, err)
	}
	reopened, err := Open(ctx, db, next, testStates)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reopened.Close() })
	got, err := reopened.WebhookEndpointByID(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur, prev, err := reopened.WebhookSecrets(got)
	if err != nil || string(cur) != "whsec_second" || len(prev) != 1 || string(prev[0]) != "whsec_first" {
		t.Fatalf("after rotate-key: %q %q %v", cur, prev, err)
	}
}

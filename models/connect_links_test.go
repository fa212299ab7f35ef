package models

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A connect link is found by its token's hash until it ends: revoked
// (once), used when the channel's phone is recorded as linked, or expired;
// the channel's live list shows only the links that still open the page.
func TestConnectLinksEndRevokedUsedOrExpired(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	hash := func(c byte) string { return strings.Repeat(string(c), 64) }

	a, err := s.CreateConnectLink(ctx, SystemActor, ch.ID, hash('a'), now, now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateConnectLink(ctx, SystemActor, ch.ID, hash('b'), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.CreateConnectLink(ctx, SystemActor, ch.ID, hash('c'), now, now.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConnectLink(ctx, SystemActor, ch.ID, hash('a'), now, now.Add(time.Hour)); err == nil {
		t.Fatal("two links with one token hash")
	}
	if _, err := s.ConnectLinkByTokenHash(ctx, hash('z')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown token: %v", err)
	}
	got, err := s.ConnectLinkByTokenHash(ctx, hash('a'))
	if err != nil || got.ID != a.ID || got.ChannelID != ch.ID || !got.LiveAt(now) || !got.ExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("link a: %+v %v", got, err)
	}

	// Expired: no longer live, and no longer listed.
	later := now.Add(10 * time.Minute)
	if got, _ := s.ConnectLinkByTokenHash(ctx, hash('c')); got.LiveAt(later) {
		t.Fatal("a 5-minute link is live after 10 minutes")
	}
	if ok, err := s.RevokeConnectLink(ctx, SystemActor, short.ID, later); err != nil || ok {
		t.Fatalf("revoking an expired link: %v %v", ok, err)
	}

	// Revoked once; a second revoke changes nothing.
	if ok, err := s.RevokeConnectLink(ctx, SystemActor, b.ID, now); err != nil || !ok {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if ok, err := s.RevokeConnectLink(ctx, SystemActor, b.ID, now); err != nil || ok {
		t.Fatalf("second revoke: %v %v", ok, err)
	}
	if got, _ := s.ConnectLinkByTokenHash(ctx, hash('b')); got.RevokedAt == nil || got.LiveAt(now) {
		t.Fatalf("revoked link: %+v", got)
	}
	if _, err := s.RevokeConnectLink(ctx, SystemActor, 999999, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking no link: %v", err)
	}
	live, err := s.LiveConnectLinks(ctx, ch.ID, now)
	if err != nil || len(live) != 2 || live[0].ID != short.ID || live[1].ID != a.ID {
		t.Fatalf("live links: %+v %v", live, err)
	}

	// The phone is recorded as linked: link a is used, in that transaction.
	linked := true
	if _, err := s.ApplyGate(ctx, ch.ID, GateObservation{Linked: &linked, Phone: "15551234567"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ConnectLinkByTokenHash(ctx, hash('a'))
	if got.UsedAt == nil || got.LiveAt(now) {
		t.Fatalf("after linking: %+v", got)
	}
	if got, _ := s.ConnectLinkByTokenHash(ctx, hash('b')); got.UsedAt != nil {
		t.Fatal("a revoked link was marked used")
	}
	if live, _ := s.LiveConnectLinks(ctx, ch.ID, now); len(live) != 0 {
		t.Fatalf("live links after linking: %+v", live)
	}
	// A link made while the phone stays linked ends at the next link only.
	d, err := s.CreateConnectLink(ctx, SystemActor, ch.ID, hash('d'), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyGate(ctx, ch.ID, GateObservation{Linked: &linked, Phone: "15551234567"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ConnectLinkByID(ctx, d.ID); got.UsedAt != nil {
		t.Fatal("a link was used by a status that changed nothing")
	}
}

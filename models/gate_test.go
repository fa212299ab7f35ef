package models

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// gateChannel makes a customer's channel (pending is enough: the gate
// records do not care).
func gateChannel(t *testing.T, s *Store) *Channel {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewUser{Email: "c@example.com", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePlan(ctx, SystemActor, PlanInput{Name: "P", MaxChannels: 2, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActivatePlan(ctx, SystemActor, u.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	ch, _, err := s.ReserveChannel(ctx, SystemActor, u.ID, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// The webhook's secret is kept only as its hash; the pending and the
// registered secret are both accepted, and one replaced is not.
func TestHookSecretsAreStoredHashed(t *testing.T) {
	s, path := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	first, h1, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != secretLen || !WellFormedSecret(first) || h1 != SecretHash(first) || strings.Contains(h1, first) {
		t.Fatalf("secret %q hash %q", first, h1)
	}
	if _, err := s.ChannelByHookSecret(ctx, first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown secret: %v", err)
	}
	if err := s.BeginHook(ctx, ch.ID, h1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChannelByHookSecret(ctx, first); err != nil || got.ID != ch.ID {
		t.Fatalf("the pending secret: %v %v", got, err)
	}
	if err := s.ConfirmHook(ctx, ch.ID, h1, "https://desk.example.com"); err != nil {
		t.Fatal(err)
	}
	g, err := s.ChannelGate(ctx, ch.ID)
	if err != nil || !g.Registered("https://desk.example.com") || g.Registered("https://other.example.com") || g.PendingHash != nil {
		t.Fatalf("gate %+v %v", g, err)
	}
	second, h2, _ := NewSecret()
	if second == first {
		t.Fatal("two secrets are equal")
	}
	if err := s.BeginHook(ctx, ch.ID, h2); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{first, second} { // both, while the new one is registered
		if got, err := s.ChannelByHookSecret(ctx, sec); err != nil || got.ID != ch.ID {
			t.Fatalf("secret during the change: %v %v", got, err)
		}
	}
	if err := s.ConfirmHook(ctx, ch.ID, h2, "https://desk.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChannelByHookSecret(ctx, first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced secret still works: %v", err)
	}
	for _, bad := range []string{"", "short", second + "x", strings.Repeat("!", secretLen)} {
		if _, err := s.ChannelByHookSecret(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	search := func() {
		t.Helper()
		if b := dbText(t, s, path); strings.Contains(b, first) || strings.Contains(b, second) {
			t.Fatalf("the database holds a webhook secret")
		}
	}
	search() // while open, the WAL too
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	search()
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func TestApplyGateNeverMovesBackInTime(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	state := func() (bool, string) {
		t.Helper()
		c, err := s.ChannelByID(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Linked, c.LinkedPhone
	}
	steps := []struct {
		name          string
		o             GateObservation
		applied       bool
		linked        bool
		phone         string
		status        string
		changedLinked bool
	}{
		{"QR at t0", GateObservation{Status: "QR", At: t0, Linked: no(), Hook: true}, true, false, "", "QR", false},
		{"AUTH at t0+10s", GateObservation{Status: "AUTH", At: t0.Add(10 * time.Second), Linked: yes(), Phone: "61371989950", Hook: true}, true, true, "61371989950", "AUTH", true},
		{"the QR of t0 replayed", GateObservation{Status: "QR", At: t0, Linked: no(), Hook: true}, false, true, "61371989950", "AUTH", false},
		{"a poll older than the hook", GateObservation{Status: "QR", At: t0.Add(5 * time.Second), Linked: no()}, false, true, "61371989950", "AUTH", false},
		{"the AUTH replayed", GateObservation{Status: "AUTH", At: t0.Add(10 * time.Second), Linked: yes(), Phone: "61371989950", Hook: true}, true, true, "61371989950", "AUTH", false},
		{"a users delete against AUTH", GateObservation{Linked: no(), Hook: true}, false, true, "61371989950", "AUTH", false},
		{"a users post agreeing", GateObservation{Linked: yes(), Phone: "61371989950", Hook: true}, true, true, "61371989950", "AUTH", false},
		{"a status without time that says nothing of the link", GateObservation{Status: "STOP", Hook: true}, true, true, "61371989950", "STOP", false},
		{"a hook's QR without time", GateObservation{Status: "QR", Linked: no(), Hook: true}, false, true, "61371989950", "STOP", false},
		{"LAUNCH later: the link stays", GateObservation{Status: "LAUNCH", At: t0.Add(20 * time.Second), Hook: true}, true, true, "61371989950", "LAUNCH", false},
		{"QR at t0+30s unlinks", GateObservation{Status: "QR", At: t0.Add(30 * time.Second), Linked: no(), Hook: true}, true, false, "", "QR", true},
		{"the users post of the old link, late", GateObservation{Linked: yes(), Phone: "61371989950", Hook: true}, false, false, "", "QR", false},
		{"a poll's QR without time applies", GateObservation{Status: "QR", Linked: no()}, true, false, "", "QR", false},
	}
	for _, st := range steps {
		res, err := s.ApplyGate(ctx, ch.ID, st.o)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		linked, phone := state()
		g, err := s.ChannelGate(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != st.applied || linked != st.linked || phone != st.phone || g.GateStatus != st.status || res.LinkChanged != st.changedLinked {
			t.Fatalf("%s: applied %v changed %v, linked %v %q, status %q; want %v %v, %v %q, %q",
				st.name, res.Applied, res.LinkChanged, linked, phone, g.GateStatus, st.applied, st.changedLinked, st.linked, st.phone, st.status)
		}
	}
}

// The gate's clock counts whole seconds. In one second a line is
// unlinked (the webhook's QR) while a poll that read AUTH just before is
// still on its way: the late poll must not link the line again, which
// would write linked, unlinked, linked, unlinked into its history. A
// webhook in the same second as a poll does apply, and a poll a second
// later is ordered and applies.
func TestApplyGatePollTiesInTheSameSecond(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	sec := time.Date(2026, 3, 2, 10, 0, 7, 0, time.UTC)
	steps := []struct {
		name    string
		o       GateObservation
		applied bool
		linked  bool
	}{
		{"linked by webhook", GateObservation{Status: "AUTH", At: sec.Add(-3 * time.Second), Linked: yes(), Phone: "61371989950", Hook: true}, true, true},
		{"unlinked by webhook", GateObservation{Status: "QR", At: sec, Linked: no(), Hook: true}, true, false},
		{"a poll read before it, same second", GateObservation{Status: "AUTH", At: sec, Linked: yes(), Phone: "61371989950"}, false, false},
		{"a poll agreeing, same second", GateObservation{Status: "QR", At: sec, Linked: no()}, true, false},
		{"linked again by webhook, same second as the poll", GateObservation{Status: "AUTH", At: sec, Linked: yes(), Phone: "61371989950", Hook: true}, true, true},
		{"a poll a second later is ordered", GateObservation{Status: "QR", At: sec.Add(time.Second), Linked: no()}, true, false},
	}
	for _, st := range steps {
		res, err := s.ApplyGate(ctx, ch.ID, st.o)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		c, err := s.ChannelByID(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != st.applied || c.Linked != st.linked {
			t.Fatalf("%s: applied %v linked %v; want %v %v", st.name, res.Applied, c.Linked, st.applied, st.linked)
		}
	}
}

// Without any status, users events link and unlink; a poll that changes
// the link of a channel whose hook is registered marks it for a recheck,
// an event clears that.
func TestApplyGateUsersEventsAndRecheck(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	apply := func(o GateObservation) GateApplied {
		t.Helper()
		res, err := s.ApplyGate(ctx, ch.ID, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := apply(GateObservation{Linked: yes(), Phone: "61371989950", Hook: true}); !res.Applied || !res.LinkChanged {
		t.Fatalf("users post: %+v", res)
	}
	if res := apply(GateObservation{Linked: no(), Hook: true}); !res.Applied || !res.LinkChanged {
		t.Fatalf("users delete: %+v", res)
	}
	if res := apply(GateObservation{Linked: no(), Hook: true}); !res.Applied || res.LinkChanged {
		t.Fatalf("users delete replayed: %+v", res)
	}
	evs, err := s.ListAudit(ctx, 10, 0)
	if err != nil || len(evs) == 0 || evs[0].Action != "channel.linked" {
		t.Fatalf("audit %+v %v", evs, err)
	}

	_, h, _ := NewSecret()
	if err := s.ConfirmHook(ctx, ch.ID, h, "https://desk.example.com"); err != nil {
		t.Fatal(err)
	}
	apply(GateObservation{Status: "AUTH", At: time.Now(), Linked: yes(), Phone: "61371989950"}) // a poll
	if g, _ := s.ChannelGate(ctx, ch.ID); !g.HookRecheck {
		t.Fatal("a poll that saw a link the hook did not tell left the hook unchecked")
	}
	apply(GateObservation{Status: "AUTH", At: time.Now(), Linked: yes(), Phone: "61371989950", Hook: true})
	if g, _ := s.ChannelGate(ctx, ch.ID); g.HookRecheck || g.HookSeenAt == nil {
		t.Fatalf("an event did not clear the recheck: %+v", g)
	}
	if err := s.HookChecked(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
}

package models

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A delete is reserved only on a channel whose activeTill is WHAPI's, since
// the days it gives back are counted from it: after an extend is settled and
// before its activeTill is read back — another instance's extend, landing
// between this instance's read of the channel and its reservation — the
// delete is refused as busy; once read back, it is reserved. (The
// multi-instance test saw a delete give back 47 days where WHAPI returned
// 54: it counted from the activeTill before another instance's extend.)
func TestReserveDeleteWaitsForAnExtendsReadBack(t *testing.T) {
	s, _ := newTestStore(t)
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
	ch, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	till := time.Now().Add(6 * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	remote := RemoteChannel{WhapiID: "ABCDEF-12345", Token: "t", Mode: "trial", ActiveTill: till}
	if _, err := s.ConfirmCreate(ctx, op.ID, remote); err != nil {
		t.Fatal(err)
	}
	ext, err := s.ReserveExtend(ctx, SystemActor, ch.ID, 7, "another instance")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmExtend(ctx, ext.ID); err != nil {
		t.Fatal(err)
	}
	if op, err := s.ReserveDelete(ctx, SystemActor, ch.ID); !errors.Is(err, ErrChannelBusy) {
		t.Fatalf("delete of a channel whose activeTill is not WHAPI's: %+v, %v; want ErrChannelBusy", op, err)
	}
	if got, _ := s.ChannelByID(ctx, ch.ID); got.Status != ChannelTrial {
		t.Fatalf("the refused delete changed the channel: %+v", got)
	}
	remote.Mode, remote.ActiveTill = "live", till.Add(7*24*time.Hour)
	if err := s.SyncChannel(ctx, ch.ID, remote); err != nil {
		t.Fatal(err)
	}
	del, err := s.ReserveDelete(ctx, SystemActor, ch.ID)
	if err != nil || del == nil || del.TillBefore == nil || !del.TillBefore.Equal(remote.ActiveTill) {
		t.Fatalf("delete once read back: %+v, %v; want it reserved from activeTill %s", del, err, remote.ActiveTill)
	}
}

// The automatic top-up reserves days only for a channel that is due as it
// is once the reservation holds it: two instances that both found it due
// extend it once. After one extend the other finds it extended and not
// read back, or read back and no longer due: ErrNotDue, nothing written.
// An admin's extend of a channel not read back is refused as busy.
func TestReserveTopUpOnlyWhileDue(t *testing.T) {
	s, _ := newTestStore(t)
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
	ch, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	remote := RemoteChannel{WhapiID: "ABCDEF-12345", Token: "t", Mode: "trial", ActiveTill: now.Add(6 * 24 * time.Hour)}
	if _, err := s.ConfirmCreate(ctx, op.ID, remote); err != nil {
		t.Fatal(err)
	}
	until := now.Add(20 * 24 * time.Hour)
	first, err := s.ReserveTopUp(ctx, SystemActor, ch.ID, 30, "Auto top-up", until)
	if err != nil {
		t.Fatalf("top-up of a channel without paid days: %v", err)
	}
	if err := s.ConfirmExtend(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	balance := func() int64 {
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.DayBalance
	}
	before := balance()
	if _, err := s.ReserveTopUp(ctx, SystemActor, ch.ID, 30, "Auto top-up", until); !errors.Is(err, ErrNotDue) {
		t.Fatalf("a second top-up before the first is read back: %v; want ErrNotDue", err)
	}
	if _, err := s.ReserveExtend(ctx, SystemActor, ch.ID, 5, "admin"); !errors.Is(err, ErrChannelBusy) {
		t.Fatalf("an admin's extend before the top-up is read back: %v; want ErrChannelBusy", err)
	}
	remote.ActiveTill = remote.ActiveTill.Add(30 * 24 * time.Hour)
	if err := s.SyncChannel(ctx, ch.ID, remote); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveTopUp(ctx, SystemActor, ch.ID, 30, "Auto top-up", until); !errors.Is(err, ErrNotDue) {
		t.Fatalf("a second top-up once read back, activeTill past the window: %v; want ErrNotDue", err)
	}
	if b := balance(); b != before {
		t.Fatalf("the refused top-ups moved days: balance %d, was %d", b, before)
	}
	again, err := s.ReserveTopUp(ctx, SystemActor, ch.ID, 30, "Auto top-up", now.Add(50*24*time.Hour))
	if err != nil || again.TillBefore == nil || !again.TillBefore.Equal(remote.ActiveTill) {
		t.Fatalf("a top-up due under a wider window: %+v, %v; want it reserved from activeTill %s", again, err, remote.ActiveTill)
	}
}

// A reading of WHAPI taken before another instance's extend was settled
// does not overwrite what that extend's read-back stored: SyncChannel with
// the days allocated when WHAPI was read (ReadAt) stores nothing once an
// extend was settled since. (The multi-instance test saw a delete give
// back 21 days where WHAPI returned 26: a read-back from before the last
// extend had marked its older activeTill as WHAPI's.)
func TestSyncChannelKeepsAReadingOlderThanAnExtend(t *testing.T) {
	s, _ := newTestStore(t)
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
	ch, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	till := time.Now().Add(6 * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	remote := RemoteChannel{WhapiID: "ABCDEF-12345", Token: "t", Mode: "trial", ActiveTill: till}
	if _, err := s.ConfirmCreate(ctx, op.ID, remote); err != nil {
		t.Fatal(err)
	}
	// This instance reads the channel (no paid days yet), then WHAPI.
	before, err := s.ChannelByID(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	old := remote
	old.ReadAt = &before.DaysAllocated
	// Meanwhile another instance extends it by 5 days and reads it back.
	ext, err := s.ReserveExtend(ctx, SystemActor, ch.ID, 5, "another instance")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmExtend(ctx, ext.ID); err != nil {
		t.Fatal(err)
	}
	after, err := s.ChannelByID(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh := remote
	fresh.Mode, fresh.ActiveTill, fresh.ReadAt = "live", till.Add(5*24*time.Hour), &after.DaysAllocated
	if err := s.SyncChannel(ctx, ch.ID, fresh); err != nil {
		t.Fatal(err)
	}
	// This instance's older reading arrives last.
	if err := s.SyncChannel(ctx, ch.ID, old); err != nil {
		t.Fatal(err)
	}
	got, err := s.ChannelByID(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.TillConfirmed || got.ActiveTill == nil || !got.ActiveTill.Equal(fresh.ActiveTill) || got.Mode != "live" {
		t.Fatalf("after an older reading: activeTill %v (confirmed %v), mode %s; want %s from the newer one, live",
			got.ActiveTill, got.TillConfirmed, got.Mode, fresh.ActiveTill)
	}
}

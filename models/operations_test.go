package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// An open operation journalled by an earlier process is handed to Reconcile
// once it is older than a WHAPI call may take (AbandonedAfter); one of this
// process waits until it is older than Reconcile's own cutoff.
func TestOpenOperationsOfAnEarlierProcessAreDueWhenAbandoned(t *testing.T) {
	s, path := newTestStore(t)
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
	_, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().Add(-time.Hour)
	if open, err := s.OpenOperations(ctx, longAgo); err != nil || len(open) != 0 {
		t.Fatalf("this process's fresh operation is due already: %+v %v", open, err)
	}

	// The process "restarts": the same file opened again.
	again, err := Open(ctx, path, s.cipher, s.states)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if open, err := again.OpenOperations(ctx, longAgo); err != nil || len(open) != 0 {
		t.Fatalf("the earlier process's operation is due before a call it sent could have ended: %+v %v", open, err)
	}
	later := time.Now().Add(AbandonedAfter + time.Second)
	again.SetClock(func() time.Time { return later })
	open, err := again.OpenOperations(ctx, longAgo)
	if err != nil || len(open) != 1 || open[0].ID != op.ID {
		t.Fatalf("the earlier process's open operation is not due: %+v %v", open, err)
	}
	_, op2, err := again.ReserveChannel(ctx, SystemActor, u.ID, "second", "")
	if err != nil {
		t.Fatal(err)
	}
	if open, _ := again.OpenOperations(ctx, longAgo); len(open) != 1 {
		t.Fatalf("the new process's own operation %d is due too early: %+v", op2.ID, open)
	}
}

// The stopped flag is set only on a channel WHAPI holds in a state that can
// be stopped, one change at a time, with its audit event; an extend that
// revives an expired channel clears it (revived, it is meant to run).
func TestSetStopped(t *testing.T) {
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
	if err := s.SetStopped(ctx, SystemActor, ch.ID, true, "channel.stop", "x"); !errors.Is(err, ErrChannelBusy) {
		t.Fatalf("stop of a pending channel: %v, want ErrChannelBusy", err)
	}
	till := time.Now().Add(24 * time.Hour)
	if _, err := s.ConfirmCreate(ctx, op.ID, RemoteChannel{WhapiID: "ABCDEF-12345", Token: "t", Mode: "trial", ActiveTill: till}); err != nil {
		t.Fatal(err)
	}
	n, _ := s.CountAudit(ctx)
	if err := s.SetStopped(ctx, SystemActor, ch.ID, true, "channel.stop", "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStopped(ctx, SystemActor, ch.ID, true, "channel.stop", "x"); !errors.Is(err, ErrChannelBusy) {
		t.Fatalf("a second stop: %v, want ErrChannelBusy", err)
	}
	if m, _ := s.CountAudit(ctx); m != n+1 {
		t.Fatalf("%d audit events for one stop", m-n)
	}
	if got, _ := s.ChannelByID(ctx, ch.ID); !got.Stopped || got.Status != ChannelTrial {
		t.Fatalf("stopped: %+v", got)
	}
	// A sync reads WHAPI's "stopped" only while the channel has days.
	if err := s.SyncChannel(ctx, ch.ID, RemoteChannel{WhapiID: "ABCDEF-12345", Mode: "trial", ActiveTill: time.Now().Add(-time.Minute), Stopped: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChannelByID(ctx, ch.ID); got.Stopped || got.Status != ChannelExpired {
		t.Fatalf("expired: %+v", got)
	}
	if err := s.CreditDays(ctx, SystemActor, u.ID, 5, LedgerAdminCredit, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Model(&Channel{}).Where("id = ?", ch.ID).Update("stopped", true).Error; err != nil {
		t.Fatal(err)
	}
	ext, err := s.ReserveExtend(ctx, SystemActor, ch.ID, 5, "back")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmExtend(ctx, ext.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChannelByID(ctx, ch.ID); got.Stopped || got.Status != ChannelActive {
		t.Fatalf("revived: %+v", got)
	}
}

// A plan shrunk while its customers add channels never leaves one of them
// over the new limit: either the shrink sees the channels and is refused,
// or the creates that come after it count against the new limit. (On
// PostgreSQL the shrink locks the customers' rows as a create does.)
func TestPlanShrinkAndCreatesAtOnceKeepTheLimit(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	for round := range 5 {
		p, err := s.CreatePlan(ctx, SystemActor, PlanInput{Name: fmt.Sprintf("P%d", round), MaxChannels: 4, DaysPerPeriod: 30, PeriodDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		var users []*User
		for i := range 6 {
			u, err := s.CreateUser(ctx, NewUser{Email: fmt.Sprintf("c%d-%d@example.com", round, i), Password: "long enough pw", Role: RoleCustomer})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ActivatePlan(ctx, SystemActor, u.ID, p.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.ReserveChannel(ctx, SystemActor, u.ID, "first", ""); err != nil {
				t.Fatal(err)
			}
			users = append(users, u)
		}
		var wg sync.WaitGroup
		for _, u := range users {
			for range 2 {
				wg.Go(func() {
					if _, _, err := s.ReserveChannel(ctx, SystemActor, u.ID, "more", ""); err != nil && !errors.Is(err, ErrPlanLimit) {
						t.Errorf("create: %v", err)
					}
				})
			}
		}
		var shrunk bool
		wg.Go(func() {
			_, err := s.UpdatePlan(ctx, SystemActor, p.ID, PlanInput{Name: p.Name, MaxChannels: 2, DaysPerPeriod: 30, PeriodDays: 30})
			var tooSmall *PlanTooSmallError
			switch {
			case err == nil:
				shrunk = true
			case !errors.As(err, &tooSmall):
				t.Errorf("shrink: %v", err)
			}
		})
		wg.Wait()
		plan, err := s.PlanByID(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if shrunk != (plan.MaxChannels == 2) {
			t.Fatalf("round %d: the shrink said %v, the plan allows %d", round, shrunk, plan.MaxChannels)
		}
		for _, u := range users {
			var live int64
			if err := s.db.Raw(`SELECT COUNT(*) FROM channels c WHERE c.user_id = ? AND `+s.sql.slotHeld, u.ID).Scan(&live).Error; err != nil {
				t.Fatal(err)
			}
			if live > plan.MaxChannels {
				t.Fatalf("round %d: %s has %d channels on a plan of %d", round, u.Email, live, plan.MaxChannels)
			}
		}
	}
}

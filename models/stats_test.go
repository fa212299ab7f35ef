package models

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"
)

// The dashboard's plots are the ledger and the status history cut into
// weeks: a channel's life played out over twelve weeks (created, extended,
// an extend WHAPI refused, deleted with a refund, another one that failed)
// gives exactly the days allocated and returned each week, and, each
// week, the channels by status as the running totals said at that week's
// end.
func TestPlotsFollowTheLedgerAndTheHistoryWeekByWeek(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	// Week 0 starts Monday 7 Sep 2026; week 11 (this week) on Mon 23 Nov.
	final := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // a Wednesday
	starts := WeekStarts(final, PlotWeeks)
	if !starts[0].Equal(time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC)) || !starts[11].Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("week starts: %v … %v", starts[0], starts[11])
	}
	now := starts[0].AddDate(0, 0, -3) // before the plotted span
	s.SetClock(func() time.Time { return now })

	u, err := s.CreateUser(ctx, NewUser{Email: "plots@example.com", Password: "long enough pw", Role: RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePlan(ctx, SystemActor, PlanInput{Name: "P", MaxChannels: 5, DaysPerPeriod: 60, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActivatePlan(ctx, SystemActor, u.ID, p.ID); err != nil { // a credit: on no plot
		t.Fatal(err)
	}
	n := 0
	create := func(till time.Time) *Channel {
		t.Helper()
		n++
		ch, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, fmt.Sprintf("line %d", n), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmCreate(ctx, op.ID, RemoteChannel{WhapiID: fmt.Sprintf("w-%d", ch.ID), Token: "tok", Mode: "trial", ActiveTill: till}); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	extend := func(ch *Channel, days int64, ok bool, till time.Time) {
		t.Helper()
		op, err := s.ReserveExtend(ctx, SystemActor, ch.ID, days, "more")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if err := s.FailExtend(ctx, op.ID, "refused"); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := s.ConfirmExtend(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.SyncChannel(ctx, ch.ID, RemoteChannel{Mode: "live", ActiveTill: till}); err != nil {
			t.Fatal(err)
		}
	}
	// Before the span: one channel, on trial; its allocation is not plotted.
	old := create(final.AddDate(0, 0, 40))
	extend(old, 3, true, final.AddDate(0, 0, 40))

	// What each week's end held, from the running totals.
	var atEnd []map[ChannelStatus]int64
	var ch1, ch2 *Channel
	for w := range PlotWeeks {
		now = starts[w].AddDate(0, 0, 2).Add(10 * time.Hour) // Wednesday, mid-week
		switch w {
		case 1:
			ch1 = create(final.AddDate(0, 0, 3)) // pending → trial
			extend(ch1, 10, true, final.AddDate(0, 0, 3))
		case 4:
			ch2 = create(final.AddDate(0, 0, 10))
			extend(ch2, 7, false, time.Time{}) // reserved, then given back: net 0
			now = now.Add(time.Hour)
			extend(ch2, 5, true, final.AddDate(0, 0, 10))
		case 6:
			// A create WHAPI did not make: pending → failed.
			_, op, err := s.ReserveChannel(ctx, SystemActor, u.ID, "never", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.FailCreate(ctx, op.ID, "no"); err != nil {
				t.Fatal(err)
			}
		case 11:
			op, err := s.ReserveDelete(ctx, SystemActor, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ConfirmDelete(ctx, op.ID, 4); err != nil {
				t.Fatal(err)
			}
		}
		tot, err := s.DashboardTotals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		atEnd = append(atEnd, maps.Clone(tot.Channels))
	}
	now = final

	days, err := s.DaysByWeek(ctx, final, PlotWeeks)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]WeekDays, PlotWeeks)
	for i := range want {
		want[i].Start = starts[i]
	}
	want[1].Allocated, want[4].Allocated, want[11].Returned = 10, 5, 4
	for i := range want {
		if days[i] != want[i] {
			t.Errorf("week %d: %+v, want %+v", i, days[i], want[i])
		}
	}

	tot, err := s.DashboardTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states, err := s.ChannelStatesByWeek(ctx, final, PlotWeeks, tot.Channels)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range states {
		for _, st := range []ChannelStatus{ChannelPending, ChannelTrial, ChannelActive, ChannelExpired, ChannelDeleting, ChannelDeleted, ChannelFailed} {
			if w.Counts[st] != atEnd[i][st] {
				t.Errorf("week %d (%s): %d %s, the totals said %d then", i, w.At.Format(time.DateOnly), w.Counts[st], st, atEnd[i][st])
			}
		}
	}
	if states[0].Counts[ChannelTrial]+states[0].Counts[ChannelActive] != 1 || states[11].Counts[ChannelDeleted] != 1 || states[6].Counts[ChannelFailed] != 1 {
		t.Errorf("the weeks do not tell the story: %+v", states)
	}

	// Paid time ending: ch1 in 3 days, ch2 in 10; the old one is deleted.
	exp, err := s.ExpiringDays(ctx, final, 30)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range exp {
		total += v
	}
	if len(exp) != 30 || exp[3] != 1 || exp[10] != 1 || total != 2 {
		t.Errorf("expiring by day: %v", exp)
	}
}

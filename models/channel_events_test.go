package models

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"
)

// Every observed change of a channel's link or gate status is one history
// row, written with the change, with what told it; a replay that changes
// nothing writes none; a follow-up runs in the change's transaction, and
// its failure undoes the change and its row.
func TestChannelHistoryRecordsChangesWithTheirSource(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	ch := gateChannel(t, s)
	yes, no := true, false

	var seen []ChannelEvent
	s.SetChannelFollowUp(func(_ context.Context, tx *sql.Tx, ev ChannelEvent, _ *Channel) error {
		var n int
		// The id is ours, a number: written into the text, which both
		// databases read (their placeholders differ).
		if err := tx.QueryRow(`SELECT COUNT(*) FROM channel_events WHERE id = ` + strconv.FormatInt(ev.ID, 10)).Scan(&n); err != nil || n != 1 {
			t.Errorf("the follow-up does not see its event in its transaction: %d %v", n, err)
		}
		seen = append(seen, ev)
		return nil
	})

	apply := func(o GateObservation) {
		t.Helper()
		if _, err := s.ApplyGate(ctx, ch.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	apply(GateObservation{Status: "QR", At: now, Linked: &no})                // poll: gate '' → QR
	apply(GateObservation{Status: "QR", At: now, Linked: &no})                // replay: nothing
	now = now.Add(time.Minute)                                                //
	apply(GateObservation{Status: "AUTH", At: now, Linked: &yes, Hook: true}) // webhook: linked
	now = now.Add(time.Minute)
	apply(GateObservation{Status: "QR", At: now, Linked: &no}) // poll: unlinked

	evs, err := s.ChannelEvents(ctx, ch.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || len(seen) != 3 {
		t.Fatalf("events %d, follow-ups %d: %+v", len(evs), len(seen), evs)
	}
	// Newest first.
	want := []struct {
		src         EventSource
		old, newL   bool
		oldG, newG  string
		minutesFrom int
	}{
		{SourcePoll, true, false, "AUTH", "QR", 2},
		{SourceWebhook, false, true, "QR", "AUTH", 1},
		{SourcePoll, false, false, "", "QR", 0},
	}
	for i, w := range want {
		e := evs[i]
		if e.Source != w.src || e.OldLinked != w.old || e.NewLinked != w.newL || e.OldGate != w.oldG || e.NewGate != w.newG ||
			!e.At.Equal(time.Date(2026, 11, 25, 12, w.minutesFrom, 0, 0, time.UTC)) || e.OldStatus != ChannelPending || e.NewStatus != ChannelPending {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
	}
	last, err := s.LastLinkChanges(ctx, []int64{ch.ID})
	if err != nil || !last[ch.ID].At.Equal(now) || last[ch.ID].Linked { // the last change was the unlink
		t.Fatalf("last link change: %v %v", last, err)
	}

	// A follow-up that fails takes the change and its row with it.
	s.SetChannelFollowUp(func(context.Context, *sql.Tx, ChannelEvent, *Channel) error { return errors.New("receiver down") })
	now = now.Add(time.Minute)
	if _, err := s.ApplyGate(ctx, ch.ID, GateObservation{Status: "AUTH", At: now, Linked: &yes}); err == nil {
		t.Fatal("a failed follow-up was ignored")
	}
	got, _ := s.ChannelByID(ctx, ch.ID)
	if evs, _ := s.ChannelEvents(ctx, ch.ID, 10); len(evs) != 3 || got.Linked {
		t.Fatalf("rolled back: %d events, linked %v", len(evs), got.Linked)
	}
	s.SetChannelFollowUp(nil)
}

// Linked time over a window counts from the state the window starts in,
// and the prune keeps that state: each channel's last event before the
// cut survives, so the figure is the same after it.
func TestLinkedTimeAndPruneKeepTheWindowStart(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s.SetClock(func() time.Time { return now })
	ch := gateChannel(t, s)
	yes, no := true, false
	at := func(d time.Duration, linked *bool) {
		t.Helper()
		now = t0.Add(d)
		if _, err := s.ApplyGate(ctx, ch.ID, GateObservation{Status: "X" + now.String(), At: now, Linked: linked}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	at(0, &yes)                   // linked from day 0
	at(100*day, &no)              // down on day 100
	at(100*day+6*time.Hour, &yes) // up again after 6 h
	at(120*day, &yes)             // a status change that leaves it linked
	now = t0.Add(130 * day)
	from, to := now.Add(-30*day), now // days 100..130: down 6 h

	got, err := s.LinkedTime(ctx, mustChannel(t, s, ch.ID), from, to)
	if err != nil || got != 30*day-6*time.Hour {
		t.Fatalf("linked %s, %v", got, err)
	}
	full, err := s.LinkedTime(ctx, mustChannel(t, s, ch.ID), t0.Add(10*day), t0.Add(20*day))
	if err != nil || full != 10*day {
		t.Fatalf("a window without events, linked before it: %s %v", full, err)
	}

	// Prune everything older than 90 days (day 40): the day-0 event is
	// the last before the cut and stays; later windows are unchanged.
	n, err := s.PruneChannelEvents(ctx, now.Add(-90*day))
	if err != nil || n != 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	n, err = s.PruneChannelEvents(ctx, t0.Add(110*day))
	if err != nil || n != 2 { // day 0 and day 100 go; day 100+6h is the window start's state
		t.Fatalf("pruned %d, %v", n, err)
	}
	again, err := s.LinkedTime(ctx, mustChannel(t, s, ch.ID), t0.Add(110*day), to)
	if err != nil || again != 20*day {
		t.Fatalf("after the prune: %s %v", again, err)
	}
	evs, _ := s.ChannelEvents(ctx, ch.ID, 10)
	if len(evs) != 2 || !evs[1].At.Equal(t0.Add(100*day+6*time.Hour)) {
		t.Fatalf("left: %+v", evs)
	}
}

func mustChannel(t *testing.T, s *Store, id int64) *Channel {
	t.Helper()
	ch, err := s.ChannelByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

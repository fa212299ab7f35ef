package provision

import (
	"testing"
	"time"

	"whapidesk/models"
)

// The Attention list holds, each from its own rule: a linked channel
// disconnected longer than the delay, a line stuck starting (INIT or
// LAUNCH) or a create unconfirmed for over 2 minutes, and paid time ending
// within 3 days that the top-up will not extend; not a channel before its
// threshold, nor one the top-up covers.
func TestAttentionListRules(t *testing.T) {
	e := newEnv(t)
	down := e.linked("down")
	e.unlink(down)
	up := e.linked("up")

	starting := e.customer("starting", 2, 30, 60)
	st := e.create(starting.ID, "starting line")
	if _, err := e.store.ApplyGate(e.ctx, st.ID, models.GateObservation{Status: "LAUNCH", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	ending := e.customer("ending", 2, 30, 60)
	end := e.create(ending.ID, "ending line")
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: end.ID, Days: 4, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	covered := e.customer("covered", 2, 4, 60)
	if err := e.store.SetAllocationMode(e.ctx, admin, covered.ID, models.AllocationAuto); err != nil {
		t.Fatal(err)
	}
	cov := e.create(covered.ID, "covered line")
	if e.channel(cov.ID).DaysAllocated != 4 {
		t.Fatalf("the covered line: %+v", e.channel(cov.ID))
	}

	list := func() map[int64]AttentionKind {
		t.Helper()
		items, err := e.svc.Attention(e.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]AttentionKind{}
		for _, it := range items {
			out[it.Channel.ChannelID] = it.Kind
		}
		return out
	}
	e.clock.Advance(time.Minute)
	if got := list(); len(got) != 0 {
		t.Fatalf("a minute on: %v", got)
	}
	e.clock.Advance(5 * time.Minute) // past 2 minutes, past the 5-minute delay
	if got := list(); len(got) != 2 || got[down.ID] != AttnDisconnected || got[st.ID] != AttnStuck {
		t.Fatalf("6 minutes on: %v", got)
	}
	if _, ok := list()[up.ID]; ok {
		t.Error("a linked channel is listed")
	}
	// A reconnect and a started line leave the list.
	e.relink(down)
	if _, err := e.store.ApplyGate(e.ctx, st.ID, models.GateObservation{Status: "QR", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("after the fixes: %v", got)
	}

	// 2 days before the paid time ends (WHAPI counts it from the trial's
	// end): the manual line is listed, the covered one is not.
	till := *e.channel(end.ID).ActiveTill
	e.clock.Set(till.Add(-2 * 24 * time.Hour))
	if ct := e.channel(cov.ID).ActiveTill; ct == nil || ct.After(e.clock.Now().Add(EndingWithin)) {
		t.Fatalf("the covered line ends %v, not within the window: the test needs it there", ct)
	}
	items, err := e.svc.Attention(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Kind != AttnEnding || items[0].Channel.ChannelID != end.ID || !items[0].Since.Equal(till) ||
		items[0].Channel.Email != "ending@example.com" {
		t.Fatalf("ending: %+v", items)
	}
}

package provision

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// A second extend of a channel within WHAPI's cool-down is "try again
// after", not a short partner balance: no day is spent (the reserved days
// come back, the books balanced), the partner-balance warning stays down,
// the channel records when WHAPI takes an extend again, nobody asks WHAPI
// before then, and after it the extend goes through.
func TestExtendTooSoonTellsWhenAndSpendsNothing(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	extends := func() int { return e.sim.CountRequests(http.MethodPost, "/channels/"+ch.RemoteID()+"/extend") }
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 7, Comment: "first"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	start := e.clock.Now()
	ledger, _ := e.store.CountLedgerEntries(e.ctx, u.ID)

	_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "second"})
	var soon *ExtendTooSoonError
	if !errors.As(err, &soon) || errors.Is(err, ErrPartnerShort) {
		t.Fatalf("second extend within the cool-down: %v, want ExtendTooSoonError", err)
	}
	// The simulator's window ends 5 minutes after the first extend, and
	// says so in its Retry-After.
	wantUntil := start.Add(4 * time.Minute)
	if !soon.Until.Equal(wantUntil) || soon.After != 4*time.Minute {
		t.Fatalf("until %v (after %v), want %v", soon.Until, soon.After, wantUntil)
	}
	if got := e.channel(ch.ID); got.ExtendAfter == nil || !got.ExtendAfter.Equal(wantUntil) || got.DaysAllocated != 7 {
		t.Fatalf("channel: extend after %v, allocated %d", got.ExtendAfter, got.DaysAllocated)
	}
	if b := e.user(u.ID).DayBalance; b != 23 {
		t.Fatalf("balance %d, want 23: the refused extend spent days", b)
	}
	if st, _ := e.store.Settings(e.ctx); st.PartnerShortAt != nil {
		t.Fatal("the cool-down raised the partner-balance warning")
	}
	if n, _ := e.store.CountLedgerEntries(e.ctx, u.ID); n != ledger+2 {
		t.Fatalf("%d ledger rows for the refused extend, want its reservation and its return", n-ledger)
	}
	e.checkBooks()

	// Until then it is refused here, without asking WHAPI or touching a day.
	e.clock.Advance(4*time.Minute - time.Second)
	_, err = e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "third"})
	if !errors.As(err, &soon) || !soon.Until.Equal(wantUntil) || soon.After != time.Second {
		t.Fatalf("extend before the window ends: %v", err)
	}
	if n := extends(); n != 2 {
		t.Fatalf("WHAPI got %d extends, want 2", n)
	}
	if n, _ := e.store.CountLedgerEntries(e.ctx, u.ID); n != ledger+2 {
		t.Fatal("an extend refused here moved days")
	}

	e.clock.Advance(time.Second)
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "after"}); err != nil {
		t.Fatalf("extend after the window: %v", err)
	}
	if got := e.channel(ch.ID); got.ExtendAfter != nil || got.DaysAllocated != 12 || e.user(u.ID).DayBalance != 18 {
		t.Fatalf("after the window: extend after %v, allocated %d, balance %d", got.ExtendAfter, got.DaysAllocated, e.user(u.ID).DayBalance)
	}
	e.checkBooks()
}

// Whatever status WHAPI gives the cool-down (it is undocumented), a
// refusal that reads as one waits WHAPI's announced five minutes when the
// answer names no time.
func TestExtendTooSoonWithoutRetryAfter(t *testing.T) {
	for _, f := range []whapisim.Fault{
		{Kind: whapisim.FaultStatus, Status: 409},
		{Kind: whapisim.FaultStatus, Status: 400, Message: "Channel was extended recently"},
		{Kind: whapisim.FaultStatus, Status: 429, Shape: whapisim.ShapeEmpty},
	} {
		t.Run(f.Message+http.StatusText(f.Status), func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			f.Method, f.Path = http.MethodPost, "/channels/"
			e.sim.InjectFault(f)
			_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "x"})
			var soon *ExtendTooSoonError
			if !errors.As(err, &soon) || !soon.Until.Equal(e.clock.Now().Add(whapi.ExtendCoolDown)) {
				t.Fatalf("%v, want a wait of %v", err, whapi.ExtendCoolDown)
			}
			if st, _ := e.store.Settings(e.ctx); st.PartnerShortAt != nil || e.user(u.ID).DayBalance != 30 {
				t.Fatalf("warning %v, balance %d", st.PartnerShortAt, e.user(u.ID).DayBalance)
			}
			e.checkBooks()
		})
	}
}

// The auto top-up that meets the cool-down leaves the channel until the
// window ends — no run asks WHAPI again before then, not even another
// process's (the time is in the database) — and tops it up after.
func TestAutoTopUpWaitsOutTheCoolDown(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.sim.NoTrial = true })
	u := e.customer("amal", 1, 30, 30) // manual: nothing allocated on create
	ch := e.create(u.ID, "shop")
	extends := func() int { return e.sim.CountRequests(http.MethodPost, "/channels/"+ch.RemoteID()+"/extend") }
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 1, Comment: "one day"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetAllocationMode(e.ctx, admin, u.ID, models.AllocationAuto); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Deferred != 1 || rep.Extended != 0 || rep.Failed != 0 {
		t.Fatalf("top-up within the cool-down: %+v %v", rep, err)
	}
	if b := e.user(u.ID).DayBalance; b != 29 {
		t.Fatalf("balance %d, want 29", b)
	}
	if st, _ := e.store.Settings(e.ctx); st.PartnerShortAt != nil {
		t.Fatal("the cool-down raised the partner-balance warning")
	}
	e.checkBooks()

	e.clock.Advance(4*time.Minute - time.Second)
	for _, svc := range []*Service{e.svc, e.newService()} { // this process, and another
		if rep, err := svc.AutoTopUp(e.ctx); err != nil || rep.Candidates != 0 {
			t.Fatalf("a top-up before the window ends: %+v %v", rep, err)
		}
	}
	if n := extends(); n != 2 {
		t.Fatalf("WHAPI got %d extends, want 2 (no retry before the window ends)", n)
	}

	e.clock.Advance(time.Second)
	rep, err = e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 1 || rep.Days != 29 {
		t.Fatalf("top-up after the window: %+v %v", rep, err)
	}
	if got := e.channel(ch.ID); got.DaysAllocated != 30 || got.ExtendAfter != nil {
		t.Fatalf("allocated %d, extend after %v", got.DaysAllocated, got.ExtendAfter)
	}
	e.checkBooks()
}

package provision

import (
	"errors"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// A delete WHAPI has not confirmed keeps its plan slot: if it turns out not
// to have happened, the channel comes back — never on top of a full plan.
func TestUnconfirmedDeleteKeepsItsPlanSlot(t *testing.T) {
	e := newEnv(t)
	e.svc.SettleAfter = 2 * time.Minute
	u := e.customer("amal", 2, 15, 30)
	a := e.create(u.ID, "a")
	e.create(u.ID, "b")
	// The connection drops before WHAPI deletes anything.
	e.sim.InjectFault(whapisim.Fault{Method: "DELETE", Path: "/channels/", Kind: whapisim.FaultHang, Delay: 50 * time.Millisecond})
	if _, err := e.svc.Delete(e.ctx, admin, a.ID); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("delete without an answer: %v", err)
	}
	if st := e.channel(a.ID).Status; st != models.ChannelDeleting {
		t.Fatalf("status %s, want deleting", st)
	}
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "c"}); !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("a create into the slot of an unconfirmed delete: %v, want ErrPlanLimit", err)
	}
	e.clock.Advance(3 * time.Minute)
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Settled != 1 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	if got := e.channel(a.ID); !HoldsSlot(got.Status) || got.Status == models.ChannelDeleting {
		t.Fatalf("the delete did not happen, so the channel is back: %+v", got)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 2 || e.simLive() != 2 {
		t.Fatalf("%d live channels here, %d at WHAPI; the plan allows 2", n, e.simLive())
	}
	e.checkBooks()
}

// Days bring an expired channel back into the plan's count, so they need a
// free slot.
func TestExtendingAnExpiredChannelNeedsAFreeSlot(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 15, 60)
	a := e.create(u.ID, "a")
	e.clock.Advance(30 * 24 * time.Hour)
	if ch, err := e.svc.Sync(e.ctx, a.ID); err != nil || ch.Status != models.ChannelExpired {
		t.Fatalf("after 30 days: %+v %v", ch, err)
	}
	b := e.create(u.ID, "b") // the expired one takes no slot
	_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: a.ID, Days: 5, Comment: "revive"})
	if !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("reviving an expired channel on a full plan: %v, want ErrPlanLimit", err)
	}
	if got := e.user(u.ID).DayBalance; got != 60 || e.sim.CountRequests("POST", "/channels/") != 0 {
		t.Fatalf("a refused revival moved days: balance %d, %d extends", got, e.sim.CountRequests("POST", "/channels/"))
	}
	if _, err := e.svc.Delete(e.ctx, admin, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: a.ID, Days: 5, Comment: "revive"}); err != nil {
		t.Fatalf("reviving with a free slot: %v", err)
	}
	e.checkBooks()
}

// While an extend's outcome is unknown, the channel takes no other change:
// the next one would move activeTill and make the first undecidable.
func TestAnUnsettledExtendBlocksTheNextChangeOfItsChannel(t *testing.T) {
	e := newEnv(t)
	e.svc.SettleAfter = 2 * time.Minute
	u := e.customer("amal", 2, 15, 30)
	ch := e.create(u.ID, "a")
	e.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultHang, Delay: 50 * time.Millisecond})
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "lost"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("extend without an answer: %v", err)
	}
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 4, Comment: "next"}); !errors.Is(err, models.ErrChannelBusy) {
		t.Fatalf("a second extend while the first is open: %v, want ErrChannelBusy", err)
	}
	if _, err := e.svc.Delete(e.ctx, admin, ch.ID); !errors.Is(err, models.ErrChannelBusy) {
		t.Fatalf("a delete while an extend is open: %v, want ErrChannelBusy", err)
	}
	// A restarted process is held back the same way, by the database.
	if _, err := e.newService().Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 4, Comment: "other process"}); !errors.Is(err, models.ErrChannelBusy) {
		t.Fatalf("another process's extend while one is open: %v", err)
	}
	if n := e.sim.CountRequests("POST", "/channels/"); n != 1 {
		t.Fatalf("WHAPI got %d extends, want the first only", n)
	}
	e.clock.Advance(3 * time.Minute)
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Settled != 1 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	if b := e.user(u.ID).DayBalance; b != 30 {
		t.Fatalf("balance %d: the extend that never reached WHAPI was not given back", b)
	}
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 4, Comment: "now"}); err != nil {
		t.Fatalf("extend after settling: %v", err)
	}
	e.checkBooks()
}

// An extend confirmed without WHAPI's new activeTill (the read-back failed,
// or the process stopped before it) leaves the channel unconfirmed; the
// delete reads WHAPI first, so the days given back are WHAPI's.
func TestDeleteAfterAnUnreadExtendRefundsWHAPIsDays(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 2, 30, 60)
	ch := e.create(u.ID, "a")
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500, Times: 1})
	got, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "paid"})
	if err != nil {
		t.Fatalf("extend with a failed read-back: %v", err)
	}
	if got.TillConfirmed {
		t.Fatal("the channel claims WHAPI's activeTill without having read it")
	}
	days, err := e.svc.Delete(e.ctx, admin, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := e.sim.Channel(got.RemoteID())
	if days != int64(sc.RefundedDays) || days != 10 {
		t.Fatalf("%d days given back to the customer, WHAPI returned %d (want 10)", days, sc.RefundedDays)
	}
	if b := e.user(u.ID).DayBalance; b != 60 {
		t.Fatalf("balance %d, want all 60 back", b)
	}
	e.checkBooks()
}

// A channel with paid days that WHAPI still shows in trial mode (the switch
// after its first paid extend failed) is put live by the next sync.
func TestReconcileSwitchesPaidTrialChannelsToLive(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 2, 15, 30)
	ch := e.create(u.ID, "a")
	e.sim.InjectFault(whapisim.Fault{Method: "PATCH", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500})
	got, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := e.sim.Channel(got.RemoteID()); sc.Mode != "trial" {
		t.Fatalf("mode %q before reconcile; the fault did not hit", sc.Mode)
	}
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if sc, _ := e.sim.Channel(got.RemoteID()); sc.Mode != "live" || e.channel(ch.ID).Mode != "live" {
		t.Fatalf("after reconcile: WHAPI mode %q, ours %q; want live", sc.Mode, e.channel(ch.ID).Mode)
	}
	e.checkBooks()
}

// A delete settled later by Reconcile gives back what WHAPI refunded when it
// deleted the channel — the days left when the delete was sent, not those
// left when Reconcile runs.
func TestSettledDeleteRefundsTheDaysLeftWhenSent(t *testing.T) {
	e := newEnv(t)
	e.svc.SettleAfter = 2 * time.Minute
	u := e.customer("amal", 2, 30, 60)
	ch := e.create(u.ID, "a")
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * 24 * time.Hour) // past the trial: every day now counts
	// WHAPI deletes, the answer is lost, and so is the check after it.
	e.sim.InjectFault(whapisim.Fault{Method: "DELETE", Path: "/channels/", Kind: whapisim.FaultLostAfterApply})
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500})
	if _, err := e.svc.Delete(e.ctx, admin, ch.ID); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("delete with its answer lost: %v", err)
	}
	e.clock.Advance(2 * 24 * time.Hour)
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Settled != 1 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	sc, _ := e.sim.Channel(e.channel(ch.ID).RemoteID())
	if sc.RefundedDays == 0 {
		t.Fatal("WHAPI refunded nothing: the test does not test")
	}
	if b := e.user(u.ID).DayBalance; b != 50+int64(sc.RefundedDays) {
		t.Fatalf("balance %d, want 50 + the %d days WHAPI refunded", b, sc.RefundedDays)
	}
	e.checkBooks()
}

// An expired channel whose extend is not settled yet holds its slot: the
// extend may have happened and made it live again.
func TestAnExpiredChannelBeingExtendedHoldsItsSlot(t *testing.T) {
	e := newEnv(t)
	e.svc.SettleAfter = 2 * time.Minute
	u := e.customer("amal", 1, 15, 60)
	a := e.create(u.ID, "a")
	e.clock.Advance(30 * 24 * time.Hour)
	if ch, err := e.svc.Sync(e.ctx, a.ID); err != nil || ch.Status != models.ChannelExpired {
		t.Fatalf("after 30 days: %+v %v", ch, err)
	}
	// The extend reaches WHAPI, the answer and the check after it are lost.
	e.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultLostAfterApply})
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500})
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: a.ID, Days: 10, Comment: "revive"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("extend with its answer lost: %v", err)
	}
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "b"}); !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("a create while the expired channel's extend is open: %v, want ErrPlanLimit", err)
	}
	e.clock.Advance(3 * time.Minute)
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 1 {
		t.Fatalf("%d live channels on a 1-channel plan", n)
	}
	e.checkBooks()
}

// A revived channel holds its slot from the moment its extend is confirmed,
// even when reading it back fails.
func TestARevivedChannelHoldsItsSlotWithoutItsReadBack(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 1, 15, 60)
	a := e.create(u.ID, "a")
	e.clock.Advance(30 * 24 * time.Hour)
	if _, err := e.svc.Sync(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500})
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: a.ID, Days: 10, Comment: "revive"}); err != nil {
		t.Fatalf("revive with a failed read-back: %v", err)
	}
	if _, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "b"}); !errors.Is(err, models.ErrPlanLimit) {
		t.Fatalf("a create next to a revived channel on a 1-channel plan: %v, want ErrPlanLimit", err)
	}
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 1 {
		t.Fatalf("%d live channels on a 1-channel plan", n)
	}
	e.checkBooks()
}

// A plan cannot be lowered under a customer whose expired channel is being
// revived: the revival may have happened.
func TestAPlanIsNotLoweredUnderAnOpenRevival(t *testing.T) {
	e := newEnv(t)
	e.svc.SettleAfter = 2 * time.Minute
	u := e.customer("amal", 2, 15, 60)
	a := e.create(u.ID, "a")
	e.clock.Advance(30 * 24 * time.Hour)
	if _, err := e.svc.Sync(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e.create(u.ID, "b")
	e.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultLostAfterApply})
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500})
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: a.ID, Days: 10, Comment: "revive"}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("revive with its answer lost: %v", err)
	}
	sub, err := e.store.LatestSubscription(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UpdatePlan(e.ctx, admin, sub.PlanID, models.PlanInput{Name: sub.Plan.Name, MaxChannels: 1, DaysPerPeriod: 15, PeriodDays: 30})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["max_channels"] == "" {
		t.Fatalf("lowering the plan to 1 under a channel and an open revival: %v", err)
	}
	e.clock.Advance(3 * time.Minute)
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 2 {
		t.Fatalf("%d live channels, want both", n)
	}
	e.checkBooks()
}

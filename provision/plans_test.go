package provision

import (
	"errors"
	"testing"

	"whapidesk/models"
)

// Plan limits hold for customers already on a plan: a plan cannot be
// lowered below the channels a subscriber has, and a customer cannot be
// moved to a plan their channels do not fit.
func TestPlanLimitsHoldWhenPlansChange(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 3, 10, 30)
	chs := []*models.Channel{e.create(u.ID, "a"), e.create(u.ID, "b"), e.create(u.ID, "c")}
	sub, err := e.store.LatestSubscription(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	in := models.PlanInput{Name: sub.Plan.Name, MaxChannels: 2, DaysPerPeriod: 10, PeriodDays: 30}
	_, err = e.svc.UpdatePlan(e.ctx, admin, sub.PlanID, in)
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["max_channels"] == "" {
		t.Fatalf("lowering the plan below a subscriber's 3 channels: %v", err)
	}
	if p, _ := e.store.LatestSubscription(e.ctx, u.ID); p.Plan.MaxChannels != 3 {
		t.Fatalf("the refused change was stored: %d", p.Plan.MaxChannels)
	}
	in.MaxChannels = 3
	in.Name = "renamed"
	if _, err := e.svc.UpdatePlan(e.ctx, admin, sub.PlanID, in); err != nil {
		t.Fatalf("an edit that keeps the limit: %v", err)
	}

	small, err := e.svc.CreatePlan(e.ctx, admin, models.PlanInput{Name: "small", MaxChannels: 2, DaysPerPeriod: 10, PeriodDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	before := e.user(u.ID).DayBalance
	var tooSmall *models.PlanTooSmallError
	if _, err := e.svc.ActivatePlan(e.ctx, admin, u.ID, small.ID); !errors.As(err, &tooSmall) || tooSmall.Live != 3 || tooSmall.Max != 2 {
		t.Fatalf("moving 3 channels to a 2-channel plan: %v", err)
	}
	if got := e.user(u.ID).DayBalance; got != before {
		t.Fatalf("the refused move credited days: %d → %d", before, got)
	}
	if _, err := e.svc.Delete(e.ctx, admin, chs[2].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ActivatePlan(e.ctx, admin, u.ID, small.ID); err != nil {
		t.Fatalf("moving 2 channels to a 2-channel plan: %v", err)
	}
	e.checkBooks()
}

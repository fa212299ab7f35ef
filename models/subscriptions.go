package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SubscriptionStatus is the state of a customer's subscription.
type SubscriptionStatus string

// Subscription states.
const (
	SubActive    SubscriptionStatus = "active"
	SubCancelled SubscriptionStatus = "cancelled"
	SubExpired   SubscriptionStatus = "expired"
)

// Subscription ties a customer to a plan.
type Subscription struct {
	ID                 int64              `gorm:"primaryKey"`
	UserID             int64              `gorm:"column:user_id"`
	PlanID             int64              `gorm:"column:plan_id"`
	Status             SubscriptionStatus `gorm:"column:status"`
	CurrentPeriodStart time.Time          `gorm:"column:current_period_start"`
	CurrentPeriodEnd   time.Time          `gorm:"column:current_period_end"`
	CreatedAt          time.Time          `gorm:"column:created_at"`
	UpdatedAt          time.Time          `gorm:"column:updated_at"`
	Plan               Plan               `gorm:"foreignKey:PlanID"`
}

// TableName implements gorm's Tabler.
func (Subscription) TableName() string { return "subscriptions" }

// Errors about subscriptions.
var (
	ErrPlanRetired      = errors.New("this plan is retired and takes no new subscribers")
	ErrNoActivePlan     = errors.New("the customer has no active plan")
	ErrAlreadyOnPlan    = errors.New("the customer is already on this plan: renew it instead")
	ErrPlanLimit        = errors.New("the plan's channel limit is reached")
	ErrCustomerDisabled = errors.New("the customer is disabled")
)

// ActiveSubscription returns a customer's active subscription with its plan.
func (s *Store) ActiveSubscription(ctx context.Context, userID int64) (*Subscription, error) {
	var sub Subscription
	err := s.db.WithContext(ctx).Preload("Plan").Where("user_id = ? AND status = ?", userID, SubActive).First(&sub).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &sub, nil
}

// LatestSubscription returns a customer's newest subscription (active,
// cancelled or expired) with its plan, or ErrNotFound if they never had one.
func (s *Store) LatestSubscription(ctx context.Context, userID int64) (*Subscription, error) {
	var sub Subscription
	err := s.db.WithContext(ctx).Preload("Plan").Where("user_id = ?", userID).
		Order("CASE WHEN status = 'active' THEN 0 ELSE 1 END, id DESC").First(&sub).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &sub, nil
}

// ActiveSubscriptionsByUsers returns the active subscriptions, with their
// plans, of the given users, by user id: one query for a whole page of users
// (no N+1). Users without an active plan are absent from the map.
func (s *Store) ActiveSubscriptionsByUsers(ctx context.Context, userIDs []int64) (map[int64]*Subscription, error) {
	out := make(map[int64]*Subscription, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var subs []Subscription
	err := s.db.WithContext(ctx).Preload("Plan").Where("user_id IN ? AND status = ?", userIDs, SubActive).Find(&subs).Error
	if err != nil {
		return nil, err
	}
	for i := range subs {
		out[subs[i].UserID] = &subs[i]
	}
	return out, nil
}

// ActivatePlan puts a customer on a plan, ending any other active
// subscription, and credits the period's days — one transaction.
func (s *Store) ActivatePlan(ctx context.Context, actor Actor, userID, planID int64) (*Subscription, error) {
	var sub Subscription
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return notFound(err)
		}
		if u.Role != RoleCustomer {
			return ErrNotCustomer
		}
		var p Plan
		if err := tx.First(&p, planID).Error; err != nil {
			return notFound(err)
		}
		if !p.Active {
			return ErrPlanRetired
		}
		if err := lockCustomer(tx, userID); err != nil {
			return err
		}
		var live int64
		if err := tx.Raw(s.sql.slotsUsed, userID, 0).Scan(&live).Error; err != nil {
			return err
		}
		if live > p.MaxChannels {
			return &PlanTooSmallError{Live: live, Max: p.MaxChannels}
		}
		var cur Subscription
		err := tx.Where("user_id = ? AND status = ?", userID, SubActive).First(&cur).Error
		switch {
		case err == nil && cur.PlanID == planID:
			return ErrAlreadyOnPlan
		case err == nil:
			if err := tx.Model(&cur).Updates(map[string]any{"status": SubCancelled, "updated_at": s.now()}).Error; err != nil {
				return err
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		now := s.now()
		sub = Subscription{UserID: userID, PlanID: planID, Status: SubActive, CurrentPeriodStart: now,
			CurrentPeriodEnd: now.Add(time.Duration(p.PeriodDays) * 24 * time.Hour), CreatedAt: now, UpdatedAt: now}
		if err := tx.Omit("Plan").Create(&sub).Error; err != nil {
			return err
		}
		sub.Plan = p
		comment := fmt.Sprintf("plan %s activated: %d days × %d channels", p.Name, p.DaysPerPeriod, p.MaxChannels)
		if err := s.addDays(tx, LedgerEntry{UserID: userID, Delta: p.PeriodCredit(), Kind: LedgerPlanCredit, Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		return s.audit(tx, actor, "subscription.activate", fmt.Sprintf("user %d", userID), comment)
	})
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// RenewSubscription starts the customer's next period and credits its days.
func (s *Store) RenewSubscription(ctx context.Context, actor Actor, userID int64) (*Subscription, error) {
	var sub Subscription
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Preload("Plan").Where("user_id = ? AND status = ?", userID, SubActive).First(&sub).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNoActivePlan
			}
			return err
		}
		start := sub.CurrentPeriodEnd
		if now := s.now(); start.Before(now) {
			start = now
		}
		end := start.Add(time.Duration(sub.Plan.PeriodDays) * 24 * time.Hour)
		if err := tx.Model(&Subscription{}).Where("id = ?", sub.ID).Updates(map[string]any{
			"current_period_start": start, "current_period_end": end, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		sub.CurrentPeriodStart, sub.CurrentPeriodEnd = start, end
		comment := fmt.Sprintf("plan %s renewed: %d days × %d channels", sub.Plan.Name, sub.Plan.DaysPerPeriod, sub.Plan.MaxChannels)
		if err := s.addDays(tx, LedgerEntry{UserID: userID, Delta: sub.Plan.PeriodCredit(), Kind: LedgerPlanCredit, Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		return s.audit(tx, actor, "subscription.renew", fmt.Sprintf("user %d", userID), comment)
	})
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// CancelSubscription cancels the active subscription: no new channels;
// existing channels keep the days they have.
func (s *Store) CancelSubscription(ctx context.Context, actor Actor, userID int64) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Subscription{}).Where("user_id = ? AND status = ?", userID, SubActive).
			Updates(map[string]any{"status": SubCancelled, "updated_at": s.now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNoActivePlan
		}
		return s.audit(tx, actor, "subscription.cancel", fmt.Sprintf("user %d", userID), "")
	})
}

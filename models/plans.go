package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Plan limits how many channels a customer may have and how many days a
// period brings.
type Plan struct {
	ID            int64     `gorm:"primaryKey"`
	Name          string    `gorm:"column:name"`
	MaxChannels   int64     `gorm:"column:max_channels"`
	DaysPerPeriod int64     `gorm:"column:days_per_period"`
	PeriodDays    int64     `gorm:"column:period_days"`
	Active        bool      `gorm:"column:active"`
	CreatedAt     time.Time `gorm:"column:created_at"`
	UpdatedAt     time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's Tabler.
func (Plan) TableName() string { return "plans" }

// PeriodCredit is what activating or renewing the plan credits: the
// period's days for each channel the plan allows.
func (p *Plan) PeriodCredit() int64 { return p.DaysPerPeriod * p.MaxChannels }

// PlanInput is a plan's editable fields (validated by provision).
type PlanInput struct {
	Name          string
	MaxChannels   int64
	DaysPerPeriod int64
	PeriodDays    int64
}

// PlanTooSmallError is returned when a plan's channel limit would be below
// the live channels of a customer on it: lowering a plan, or moving a
// customer to a smaller one. Live is the most live channels concerned.
type PlanTooSmallError struct{ Live, Max int64 }

func (e *PlanTooSmallError) Error() string {
	return fmt.Sprintf("%d live channels do not fit a limit of %d", e.Live, e.Max)
}

// ErrPlanNameTaken is returned when another plan has the name.
var ErrPlanNameTaken = errors.New("another plan has this name")

// CreatePlan inserts an active plan.
func (s *Store) CreatePlan(ctx context.Context, actor Actor, in PlanInput) (*Plan, error) {
	now := s.now()
	p := &Plan{Name: in.Name, MaxChannels: in.MaxChannels, DaysPerPeriod: in.DaysPerPeriod, PeriodDays: in.PeriodDays, Active: true, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(p).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "plan.create", planTarget(p), planDetail(p))
	})
	if isDuplicate(err) {
		return nil, ErrPlanNameTaken
	}
	if err != nil {
		return nil, fmt.Errorf("store: create plan: %w", err)
	}
	return p, nil
}

// UpdatePlan changes a plan's fields. Subscribers keep their plan; the new
// limits hold from now on, the new days from the next activation or renewal.
func (s *Store) UpdatePlan(ctx context.Context, actor Actor, id int64, in PlanInput) (*Plan, error) {
	var p Plan
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.First(&p, id).Error; err != nil {
			return notFound(err)
		}
		before := planDetail(&p)
		if in.MaxChannels < p.MaxChannels {
			// Invariant 1 holds for customers already on the plan too.
			// Their rows are locked first, as a create locks its customer's
			// before counting (checkFreeSlot): a create in flight finishes
			// before the count below, and one that starts after it waits and
			// counts against the new limit. SQLite's single writer
			// serialises this already; PostgreSQL needs it.
			if err := lockPlanCustomers(tx, p.ID); err != nil {
				return err
			}
			var most int64
			if err := tx.Raw(`SELECT COALESCE(MAX(n), 0) FROM (
					SELECT COUNT(*) AS n FROM channels c
					JOIN subscriptions s ON s.user_id = c.user_id AND s.status = 'active' AND s.plan_id = ?
					WHERE `+s.sql.slotHeld+` GROUP BY c.user_id) AS per_customer`, p.ID).Scan(&most).Error; err != nil {
				return err
			}
			if most > in.MaxChannels {
				return &PlanTooSmallError{Live: most, Max: in.MaxChannels}
			}
		}
		p.Name, p.MaxChannels, p.DaysPerPeriod, p.PeriodDays, p.UpdatedAt = in.Name, in.MaxChannels, in.DaysPerPeriod, in.PeriodDays, s.now()
		if err := tx.Save(&p).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "plan.update", planTarget(&p), before+" → "+planDetail(&p))
	})
	if isDuplicate(err) {
		return nil, ErrPlanNameTaken
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SetPlanActive retires (false) or reinstates (true) a plan. A retired plan
// keeps its subscribers but takes no new ones.
func (s *Store) SetPlanActive(ctx context.Context, actor Actor, id int64, active bool) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Plan{}).Where("id = ?", id).Updates(map[string]any{"active": active, "updated_at": s.now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		action := "plan.retire"
		if active {
			action = "plan.reinstate"
		}
		return s.audit(tx, actor, action, fmt.Sprintf("plan %d", id), "")
	})
}

// PlanByID returns a plan or ErrNotFound.
func (s *Store) PlanByID(ctx context.Context, id int64) (*Plan, error) {
	var p Plan
	if err := s.db.WithContext(ctx).First(&p, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// PlanWithCount is a plan and how many active subscriptions it has.
type PlanWithCount struct {
	Plan
	Subscribers int64 `gorm:"column:subscribers"`
}

// ListPlans returns every plan, active first, with its subscriber count.
func (s *Store) ListPlans(ctx context.Context) ([]PlanWithCount, error) {
	var ps []PlanWithCount
	err := s.db.WithContext(ctx).Table("plans").
		Select("plans.*, (SELECT COUNT(*) FROM subscriptions s WHERE s.plan_id = plans.id AND s.status = 'active') AS subscribers").
		Order("plans.active DESC, plans.name").Scan(&ps).Error
	return ps, err
}

// PlanOption is a plan as a list's filter offers it.
type PlanOption struct {
	ID     int64
	Name   string
	Active bool
}

// PlanOptions returns every plan's id, name and whether it is on sale,
// active ones first, by name: what a plan filter needs, without counting
// each plan's subscribers as ListPlans does.
func (s *Store) PlanOptions(ctx context.Context) ([]PlanOption, error) {
	var out []PlanOption
	err := s.db.WithContext(ctx).Model(&Plan{}).Select("id, name, active").Order("active DESC, name").Scan(&out).Error
	return out, err
}

func planTarget(p *Plan) string { return fmt.Sprintf("plan %d (%s)", p.ID, p.Name) }

func planDetail(p *Plan) string {
	return fmt.Sprintf("%s: %d channels, %d days per %d-day period", p.Name, p.MaxChannels, p.DaysPerPeriod, p.PeriodDays)
}

// lockPlanCustomers locks the rows of the plan's active customers until tx
// ends (lockRows: in id order, so that two admins at once cannot deadlock
// on them).
func lockPlanCustomers(tx *gorm.DB, planID int64) error {
	_, err := lockRows(tx, "users", `id IN (SELECT user_id FROM subscriptions WHERE status = 'active' AND plan_id = ?)`, planID)
	return err
}

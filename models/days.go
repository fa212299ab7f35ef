package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// LedgerKind says why a customer's day balance moved.
type LedgerKind string

// Ledger kinds.
const (
	LedgerPlanCredit  LedgerKind = "plan_credit"  // a plan was activated or renewed
	LedgerAdminCredit LedgerKind = "admin_credit" // an admin added days
	LedgerAllocation  LedgerKind = "allocation"   // days moved to a channel (negative)
	LedgerRefund      LedgerKind = "refund"       // unused days back from a deleted channel
	LedgerCorrection  LedgerKind = "correction"   // a reserved allocation that did not happen, given back
)

// LedgerEntry is one append-only move of a customer's days.
type LedgerEntry struct {
	ID        int64      `gorm:"primaryKey"`
	UserID    int64      `gorm:"column:user_id"`
	ChannelID *int64     `gorm:"column:channel_id"`
	OpID      *int64     `gorm:"column:op_id"`
	Delta     int64      `gorm:"column:delta"`
	Kind      LedgerKind `gorm:"column:kind"`
	Comment   string     `gorm:"column:comment"`
	Actor     string     `gorm:"column:actor"`
	CreatedAt time.Time  `gorm:"column:created_at"`
}

// TableName implements gorm's Tabler.
func (LedgerEntry) TableName() string { return "day_ledger" }

// PartnerEntry is one move of the partner's estimated WHAPI day balance.
type PartnerEntry struct {
	ID        int64     `gorm:"primaryKey"`
	Delta     int64     `gorm:"column:delta"`
	Kind      string    `gorm:"column:kind"`
	ChannelID *int64    `gorm:"column:channel_id"`
	OpID      *int64    `gorm:"column:op_id"`
	Comment   string    `gorm:"column:comment"`
	Actor     string    `gorm:"column:actor"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's Tabler.
func (PartnerEntry) TableName() string { return "partner_ledger" }

// Errors about days.
var (
	ErrInsufficientBalance = errors.New("the customer's day balance is too small")
	ErrNotCustomer         = errors.New("only customers have plans, channels and days")
)

// addDays moves a user's balance by delta (negative: only if the balance
// covers it) and appends the ledger row, inside tx. It is the one place
// days move: a conditional update, never read-check-write.
func (s *Store) addDays(tx *gorm.DB, e LedgerEntry) error {
	if e.Delta == 0 {
		return nil
	}
	q := tx.Model(&User{}).Where("id = ? AND role = ?", e.UserID, RoleCustomer)
	if e.Delta < 0 {
		q = q.Where("day_balance >= ?", -e.Delta)
	}
	res := q.Updates(map[string]any{"day_balance": gorm.Expr("day_balance + ?", e.Delta), "updated_at": s.now()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		var n int64
		if err := tx.Model(&User{}).Where("id = ?", e.UserID).Count(&n).Error; err != nil {
			return err
		}
		switch {
		case n == 0:
			return ErrNotFound
		case e.Delta < 0:
			var customer int64
			if err := tx.Model(&User{}).Where("id = ? AND role = ?", e.UserID, RoleCustomer).Count(&customer).Error; err != nil {
				return err
			}
			if customer == 1 {
				return ErrInsufficientBalance
			}
		}
		return ErrNotCustomer
	}
	e.CreatedAt = s.now()
	return tx.Create(&e).Error
}

// addPartnerDays appends to the partner's estimated balance inside tx.
func (s *Store) addPartnerDays(tx *gorm.DB, e PartnerEntry) error {
	if e.Delta == 0 {
		return nil
	}
	e.CreatedAt = s.now()
	return tx.Create(&e).Error
}

// CreditDays adds days to a customer's balance (kind plan_credit or
// admin_credit) with its ledger row and audit event, in one transaction.
func (s *Store) CreditDays(ctx context.Context, actor Actor, userID, days int64, kind LedgerKind, comment string) error {
	if days <= 0 {
		return errors.New("store: credit must be positive")
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.addDays(tx, LedgerEntry{UserID: userID, Delta: days, Kind: kind, Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		return s.audit(tx, actor, "days.credit", fmt.Sprintf("user %d", userID), fmt.Sprintf("+%d days (%s): %s", days, kind, comment))
	})
}

// RecordPartnerPurchase records days the partner bought from WHAPI.
func (s *Store) RecordPartnerPurchase(ctx context.Context, actor Actor, days int64, comment string) error {
	if days == 0 {
		return errors.New("store: a purchase of zero days")
	}
	kind := "purchase"
	if days < 0 {
		kind = "correction"
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.addPartnerDays(tx, PartnerEntry{Delta: days, Kind: kind, Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		if days > 0 { // new days bought: WHAPI may accept extends again
			if err := tx.Model(&Settings{}).Where("id = 1").Update("partner_short_at", nil).Error; err != nil {
				return err
			}
		}
		return s.audit(tx, actor, "partner.days", "partner balance", fmt.Sprintf("%+d days (%s): %s", days, kind, comment))
	})
}

// PartnerBalance is the estimate of the partner's WHAPI day balance.
type PartnerBalance struct {
	Bought, Extended, Returned, Corrections int64
}

// Estimate is bought − extended + returned (+ corrections).
func (p PartnerBalance) Estimate() int64 {
	return p.Bought - p.Extended + p.Returned + p.Corrections
}

// PartnerBalance sums the partner ledger.
func (s *Store) PartnerBalance(ctx context.Context) (PartnerBalance, error) {
	var rows []struct {
		Kind string
		Sum  int64
	}
	err := s.db.WithContext(ctx).Model(&PartnerEntry{}).Select("kind, COALESCE(SUM(delta), 0) AS sum").Group("kind").Scan(&rows).Error
	var b PartnerBalance
	for _, r := range rows {
		switch r.Kind {
		case "purchase":
			b.Bought = r.Sum
		case "extend":
			b.Extended = -r.Sum
		case "return":
			b.Returned = r.Sum
		default:
			b.Corrections += r.Sum
		}
	}
	return b, err
}

// Ledger returns a customer's ledger rows, newest first.
func (s *Store) Ledger(ctx context.Context, userID int64, limit, offset int) ([]LedgerEntry, error) {
	var es []LedgerEntry
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(limit).Offset(offset).Find(&es).Error
	return es, err
}

// DayTotals sums all customers' ledger rows by kind.
type DayTotals struct {
	Credited, Allocated, Returned, Corrected int64
}

// DayTotals returns days credited, allocated (positive), returned by
// deletes and given back after failed allocations, over all customers,
// summed over the whole ledger. Pages read the running totals
// (DashboardTotals); this sum is what they are checked against.
func (s *Store) DayTotals(ctx context.Context) (DayTotals, error) {
	var rows []struct {
		Kind LedgerKind
		Sum  int64
	}
	err := s.db.WithContext(ctx).Model(&LedgerEntry{}).Select("kind, COALESCE(SUM(delta), 0) AS sum").Group("kind").Scan(&rows).Error
	var t DayTotals
	for _, r := range rows {
		switch r.Kind {
		case LedgerPlanCredit, LedgerAdminCredit:
			t.Credited += r.Sum
		case LedgerAllocation:
			t.Allocated = -r.Sum
		case LedgerRefund:
			t.Returned = r.Sum
		case LedgerCorrection:
			t.Corrected = r.Sum
		}
	}
	return t, err
}

// LedgerMismatch is a user whose balance differs from the sum of their ledger.
type LedgerMismatch struct {
	UserID     int64
	Balance    int64
	LedgerSum  int64
	Difference int64
}

// CheckLedger returns every user whose day_balance is not the sum of their
// ledger rows (invariant 2); empty when all is well.
func (s *Store) CheckLedger(ctx context.Context) ([]LedgerMismatch, error) {
	var out []LedgerMismatch
	err := s.db.WithContext(ctx).Raw(`
		SELECT u.id AS user_id, u.day_balance AS balance, COALESCE(l.sum, 0) AS ledger_sum,
		       u.day_balance - COALESCE(l.sum, 0) AS difference
		FROM users u LEFT JOIN (SELECT user_id, SUM(delta) AS sum FROM day_ledger GROUP BY user_id) l ON l.user_id = u.id
		WHERE u.day_balance <> COALESCE(l.sum, 0)`).Scan(&out).Error
	return out, err
}

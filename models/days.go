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

// Ledger returns a customer's ledger rows, newest first.
func (s *Store) Ledger(ctx context.Context, userID int64, limit, offset int) ([]LedgerEntry, error) {
	var es []LedgerEntry
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(limit).Offset(offset).Find(&es).Error
	return es, err
}

// CountLedgerEntries counts a customer's ledger rows.
func (s *Store) CountLedgerEntries(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&LedgerEntry{}).Where("user_id = ?", userID).Count(&n).Error
	return n, err
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

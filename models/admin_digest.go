package models

import (
	"context"
	"fmt"
	"time"
)

// What the admins' alerts and daily summary read (provision/admin_alerts.go).

// EnabledAdmins are the admins who can sign in (not disabled), by id: the
// people the admins' mails go to.
func (s *Store) EnabledAdmins(ctx context.Context) ([]User, error) {
	var out []User
	if err := s.db.WithContext(ctx).Where("role = ? AND NOT disabled", RoleAdmin).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: admins: %w", err)
	}
	return out, nil
}

// DayMoves are the customers' days moved in a span of time.
type DayMoves struct {
	// Allocated: days moved from balances to channels (net of the
	// corrections of allocations that did not happen); Returned: unused
	// days given back by deleted channels.
	Allocated, Returned int64
}

// DayMovesBetween sums the day ledger's allocations, corrections and
// refunds made in [from, to).
func (s *Store) DayMovesBetween(ctx context.Context, from, to time.Time) (DayMoves, error) {
	var rows []struct {
		Kind LedgerKind
		Sum  int64
	}
	err := s.db.WithContext(ctx).Model(&LedgerEntry{}).Select("kind, COALESCE(SUM(delta), 0) AS sum").
		Where("created_at >= ? AND created_at < ? AND kind IN ?", from.UTC(), to.UTC(), []LedgerKind{LedgerAllocation, LedgerCorrection, LedgerRefund}).
		Group("kind").Scan(&rows).Error
	if err != nil {
		return DayMoves{}, fmt.Errorf("store: days moved: %w", err)
	}
	var m DayMoves
	for _, r := range rows {
		switch r.Kind {
		case LedgerAllocation, LedgerCorrection:
			m.Allocated -= r.Sum
		case LedgerRefund:
			m.Returned += r.Sum
		}
	}
	return m, nil
}

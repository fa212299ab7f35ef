package models

import (
	"context"
	"strings"
)

// UserFilter selects users for the admin's customer list.
type UserFilter struct {
	Search string         // part of the email or name
	Role   Role           // "" = any
	PlanID int64          // active subscription to this plan; -1 = no active plan
	Mode   AllocationMode // "" = any
	Status string         // "active", "disabled" or ""
	Limit  int
	Offset int
	// CountUpTo, when > 0, bounds ListUsersPage's count of a filter the
	// running totals do not cover (a search, a plan, a mode, a status):
	// counting stops past CountUpTo and the total says "more than
	// CountUpTo". A role alone is counted exactly, from the totals.
	CountUpTo int
}

// UserRow is a user with their active plan and channel count, for lists.
type UserRow struct {
	User
	PlanID       *int64 `gorm:"column:plan_id"`
	PlanName     string `gorm:"column:plan_name"`
	MaxChannels  int64  `gorm:"column:max_channels"`
	LiveChannels int64  `gorm:"column:live_channels"`
}

// ListUsers returns the users matching f, by email, and exactly how many
// match (it ignores f.CountUpTo). See ListUsersPage.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]UserRow, int64, error) {
	f.CountUpTo = 0
	rows, total, err := s.ListUsersPage(ctx, f)
	return rows, total.N, err
}

// ListUsersPage returns the users matching f, by email, and how many match
// (see CountUpTo). The page is one query (no N+1) over indexed columns;
// the count of a role alone reads the running totals.
func (s *Store) ListUsersPage(ctx context.Context, f UserFilter) ([]UserRow, ListTotal, error) {
	q := s.db.WithContext(ctx).Table("users").
		Joins("LEFT JOIN subscriptions sub ON sub.user_id = users.id AND sub.status = 'active'").
		Joins("LEFT JOIN plans p ON p.id = sub.plan_id")
	search := strings.TrimSpace(f.Search)
	if search != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(search)) + "%"
		q = q.Where(`(users.email LIKE ? ESCAPE '\' OR lower(users.name) LIKE ? ESCAPE '\')`, like, like)
	}
	if f.Role != "" {
		q = q.Where("users.role = ?", f.Role)
	}
	switch {
	case f.PlanID > 0:
		q = q.Where("sub.plan_id = ?", f.PlanID)
	case f.PlanID < 0:
		q = q.Where("sub.id IS NULL")
	}
	if f.Mode != "" {
		q = q.Where("users.allocation_mode = ?", f.Mode)
	}
	switch f.Status {
	case "active":
		q = q.Where("users.disabled = 0")
	case "disabled":
		q = q.Where("users.disabled = 1")
	}
	var total ListTotal
	if search == "" && f.PlanID == 0 && f.Mode == "" && f.Status == "" {
		t, err := s.totals(ctx)
		if err != nil {
			return nil, total, err
		}
		if f.Role != "" {
			total.N = t["users:"+string(f.Role)]
		} else {
			total.N = t.sum("users:")
		}
	} else {
		var err error
		if total, err = countUpTo(q, f.CountUpTo); err != nil {
			return nil, total, err
		}
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(f.Offset)
	}
	var rows []UserRow
	err := q.Select(`users.*, sub.plan_id AS plan_id, COALESCE(p.name, '') AS plan_name, COALESCE(p.max_channels, 0) AS max_channels,
		(SELECT COUNT(*) FROM channels c WHERE c.user_id = users.id AND ` + s.sql.slotHeld + `) AS live_channels`).
		Order("users.email").Scan(&rows).Error
	return rows, total, err
}

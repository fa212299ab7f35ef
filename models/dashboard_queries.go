package models

import (
	"context"
	"strings"
	"time"
)

// AdminChannelFilter selects channels for the admin's channel list, its CSV
// export and the dashboard's "expiring soon" list.
type AdminChannelFilter struct {
	// Status selects one status; "" means every channel that is not
	// deleted or failed, unless IncludeGone.
	Status      ChannelStatus
	IncludeGone bool
	// UserID selects one owner; OwnerSearch a part of the owner's email
	// (case-insensitive).
	UserID      int64
	OwnerSearch string
	// ExpiringFrom and ExpiringUntil, when both set, select running
	// channels (trial or active) whose active till falls in
	// [ExpiringFrom, ExpiringUntil); they are listed soonest first.
	ExpiringFrom, ExpiringUntil *time.Time
	Limit, Offset               int
}

// AdminChannelRow is a channel with what the admin needs of its owner.
type AdminChannelRow struct {
	ChannelRow
	OwnerBalance int64          `gorm:"column:owner_balance"`
	OwnerMode    AllocationMode `gorm:"column:owner_mode"`
}

// ListAdminChannels returns the channels matching f and how many match:
// newest first, or soonest to expire first when f selects expiring
// channels. It is one query over indexed columns (no N+1).
func (s *Store) ListAdminChannels(ctx context.Context, f AdminChannelFilter) ([]AdminChannelRow, int64, error) {
	q := s.db.WithContext(ctx).Table("channels").Joins("JOIN users ON users.id = channels.user_id")
	if f.UserID != 0 {
		q = q.Where("channels.user_id = ?", f.UserID)
	}
	if t := strings.TrimSpace(f.OwnerSearch); t != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(t)) + "%"
		q = q.Where(`users.email LIKE ? ESCAPE '\'`, like)
	}
	switch {
	case f.Status != "":
		q = q.Where("channels.status = ?", f.Status)
	case !f.IncludeGone:
		q = q.Where("channels.status NOT IN ?", []ChannelStatus{ChannelDeleted, ChannelFailed})
	}
	expiring := f.ExpiringFrom != nil && f.ExpiringUntil != nil
	if expiring {
		q = q.Where("channels.status IN ? AND channels.active_till >= ? AND channels.active_till < ?",
			[]ChannelStatus{ChannelTrial, ChannelActive}, f.ExpiringFrom.UTC(), f.ExpiringUntil.UTC())
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(f.Offset)
	}
	order := "channels.id DESC"
	if expiring {
		order = "channels.active_till, channels.id"
	}
	var rows []AdminChannelRow
	err := q.Select("channels.*, users.email AS owner_email, users.day_balance AS owner_balance, users.allocation_mode AS owner_mode").
		Order(order).Scan(&rows).Error
	return rows, total, err
}

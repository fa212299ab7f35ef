package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

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

// CountLedgerEntries counts a customer's ledger rows.
func (s *Store) CountLedgerEntries(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&LedgerEntry{}).Where("user_id = ?", userID).Count(&n).Error
	return n, err
}

// SetUserDisplayName changes a user's name (validated by the caller) with
// its audit event, in one transaction. It returns ErrNotFound for an
// unknown user.
func (s *Store) SetUserDisplayName(ctx context.Context, actor Actor, id int64, name string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err)
		}
		if u.Name == name {
			return nil
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"name": name, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(tx, actor, "user.rename", fmt.Sprintf("user %d (%s)", id, u.Email), fmt.Sprintf("%q → %q", u.Name, name))
	})
}

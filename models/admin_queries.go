package models

import "context"

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

// ChannelNames returns the names of all of a customer's channels, deleted
// ones included, by id (for the ledger, whose rows outlive channels).
func (s *Store) ChannelNames(ctx context.Context, userID int64) (map[int64]string, error) {
	var rows []struct {
		ID   int64
		Name string
	}
	err := s.db.WithContext(ctx).Model(&Channel{}).Select("id, name").Where("user_id = ?", userID).Scan(&rows).Error
	out := make(map[int64]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, err
}

// CountAudit counts the audit events, from the running totals.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COALESCE((SELECT n FROM totals WHERE name = 'audit_events'), 0)").Scan(&n).Error
	return n, err
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

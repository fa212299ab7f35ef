package models

import (
	"context"
	"strings"

	"gorm.io/gorm"
)

// The totals table (migration 0004) holds running totals kept by triggers
// in the same transaction as each change: users by role, channels by
// status, ledger sums by kind, audit events. Reading them costs the same
// with ten customers or ten thousand.

// Totals are the running totals, by name ("channels:active",
// "day_ledger:allocation", "users:customer", "audit_events", ...).
type Totals map[string]int64

// totals reads every running total (a few dozen, each the sum of its rows:
// up to 64 on PostgreSQL, migration 0023).
func (s *Store) totals(ctx context.Context) (Totals, error) {
	var rows []struct {
		Name string
		N    int64
	}
	if err := s.db.WithContext(ctx).Raw("SELECT name, SUM(n) AS n FROM totals GROUP BY name").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(Totals, len(rows))
	for _, r := range rows {
		out[r.Name] = r.N
	}
	return out, nil
}

// sum adds up the totals whose name starts with prefix, except those named
// prefix+x for x in except.
func (t Totals) sum(prefix string, except ...ChannelStatus) int64 {
	var n int64
outer:
	for k, v := range t {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		for _, x := range except {
			if k == prefix+string(x) {
				continue outer
			}
		}
		n += v
	}
	return n
}

// Dashboard is what the admin dashboard counts, read from the running
// totals in one query.
type Dashboard struct {
	Channels map[ChannelStatus]int64
	Days     DayTotals
	Partner  PartnerBalance
}

// DashboardTotals returns the channels by status, the customers' day totals
// and the partner balance — the same figures as ChannelCounts, DayTotals
// and PartnerBalance, without reading the channels or either ledger.
func (s *Store) DashboardTotals(ctx context.Context) (Dashboard, error) {
	t, err := s.totals(ctx)
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Channels: map[ChannelStatus]int64{}}
	for k, v := range t {
		name, kind, _ := strings.Cut(k, ":")
		switch name {
		case "channels":
			d.Channels[ChannelStatus(kind)] = v
		case "day_ledger":
			switch LedgerKind(kind) {
			case LedgerPlanCredit, LedgerAdminCredit:
				d.Days.Credited += v
			case LedgerAllocation:
				d.Days.Allocated = -v
			case LedgerRefund:
				d.Days.Returned = v
			case LedgerCorrection:
				d.Days.Corrected = v
			}
		case "partner_ledger":
			switch kind {
			case "purchase":
				d.Partner.Bought = v
			case "extend":
				d.Partner.Extended = -v
			case "return":
				d.Partner.Returned = v
			default:
				d.Partner.Corrections += v
			}
		}
	}
	return d, nil
}

// TotalMismatch is a running total that differs from a recount of its rows.
type TotalMismatch struct {
	Name          string
	Kept, Recount int64
}

// totalsRecount is every running total recounted from the rows.
const totalsRecount = `
	SELECT 'users:' || role AS name, COUNT(*) AS n FROM users GROUP BY role
	UNION ALL SELECT 'channels:' || status, COUNT(*) FROM channels GROUP BY status
	UNION ALL SELECT 'day_ledger:' || kind, SUM(delta) FROM day_ledger GROUP BY kind
	UNION ALL SELECT 'partner_ledger:' || kind, SUM(delta) FROM partner_ledger GROUP BY kind
	UNION ALL SELECT 'audit_events', COUNT(*) FROM audit_events`

// CheckTotals recounts every running total from the rows (whole-table
// scans, for tests and maintenance) and returns those that differ; empty
// when all is well. A total of 0 and a missing total are the same.
func (s *Store) CheckTotals(ctx context.Context) ([]TotalMismatch, error) {
	var out []TotalMismatch
	err := s.db.WithContext(ctx).Raw(`
		SELECT name, SUM(kept) AS kept, SUM(recount) AS recount FROM (
			SELECT name, n AS kept, 0 AS recount FROM totals
			UNION ALL SELECT name, 0, n FROM (` + totalsRecount + `) AS recounted
		) AS both_counts GROUP BY name HAVING SUM(kept) <> SUM(recount) ORDER BY name`).Scan(&out).Error
	return out, err
}

// ListTotal is how many rows a list's filter matches.
type ListTotal struct {
	N int64
	// More says that counting stopped at the filter's CountUpTo: more
	// than N rows match.
	More bool
}

// countUpTo counts the rows q selects, but stops once it passes upTo
// (when upTo > 0). q is not changed.
func countUpTo(q *gorm.DB, upTo int) (ListTotal, error) {
	var n int64
	if upTo <= 0 {
		err := q.Session(&gorm.Session{}).Count(&n).Error
		return ListTotal{N: n}, err
	}
	sub := q.Session(&gorm.Session{}).Select("1").Limit(upTo + 1)
	err := q.Session(&gorm.Session{NewDB: true}).Table("(?) AS matches", sub).Count(&n).Error
	if n > int64(upTo) {
		return ListTotal{N: int64(upTo), More: true}, err
	}
	return ListTotal{N: n}, err
}

package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Totals ----------------------------------------------------------------

// The totals table (migration 0004) holds running totals kept by triggers
// in the same transaction as each change: users by role, channels by
// status, ledger sums by kind, audit events. Reading them costs the same
// with ten customers or ten thousand.

// Totals are the running totals, by name ("channels:active",
// "day_ledger:allocation", "users:customer", "audit_events", ...).
type Totals map[string]int64

// totals reads every running total (a few dozen rows at most).
func (s *Store) totals(ctx context.Context) (Totals, error) {
	var rows []struct {
		Name string
		N    int64
	}
	if err := s.db.WithContext(ctx).Raw("SELECT name, n FROM totals").Scan(&rows).Error; err != nil {
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
			UNION ALL SELECT name, 0, n FROM (` + totalsRecount + `)
		) GROUP BY name HAVING SUM(kept) <> SUM(recount) ORDER BY name`).Scan(&out).Error
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

// The channel list -------------------------------------------------------

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
	// CountUpTo, when > 0, bounds the count of a filter the running totals
	// do not cover (an owner, the expiring window): counting stops past
	// CountUpTo and the total says "more than CountUpTo". A status filter
	// alone is counted exactly, from the totals.
	CountUpTo int
}

// AdminChannelRow is a channel with what the admin needs of its owner. Of
// the channel, only the columns the lists show are read (see
// adminChannelColumns): TokenEnc, TrialEndsAt, LastError, UpdatedAt and
// DeletedAt are left empty.
type AdminChannelRow struct {
	ChannelRow
	OwnerBalance int64          `gorm:"column:owner_balance"`
	OwnerMode    AllocationMode `gorm:"column:owner_mode"`
}

// ListAdminChannels returns the channels matching f and how many match
// (see CountUpTo): newest first, or soonest to expire first when f selects
// expiring channels. The page is one query over indexed columns (no N+1);
// the count of a status filter alone reads the running totals.
func (s *Store) ListAdminChannels(ctx context.Context, f AdminChannelFilter) ([]AdminChannelRow, ListTotal, error) {
	expiring := f.ExpiringFrom != nil && f.ExpiringUntil != nil
	owner := strings.TrimSpace(f.OwnerSearch)
	from := "channels"
	if expiring && f.UserID == 0 && owner == "" {
		// Walk the running channels' index in active-till order and stop
		// after a page. Without table statistics the planner would rather
		// take every running channel by (status, active_till) and sort them.
		from = "channels INDEXED BY channels_running_till"
	}
	q := s.db.WithContext(ctx).Table(from)
	if owner != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(owner)) + "%"
		q = q.Where(`channels.user_id IN (SELECT id FROM users WHERE email LIKE ? ESCAPE '\')`, like)
	}
	if f.UserID != 0 {
		q = q.Where("channels.user_id = ?", f.UserID)
	}
	switch {
	case f.Status != "":
		q = q.Where("channels.status = ?", f.Status)
	case !f.IncludeGone && !expiring: // expiring selects running channels only
		q = q.Where("channels.status NOT IN ?", s.states.Gone)
	}
	if expiring {
		// Written as the partial index channels_running_till is, so that
		// it applies.
		q = q.Where("channels.status IN ('trial', 'active') AND channels.active_till >= ? AND channels.active_till < ?",
			f.ExpiringFrom.UTC(), f.ExpiringUntil.UTC())
	}
	var total ListTotal
	if f.UserID == 0 && owner == "" && !expiring {
		t, err := s.totals(ctx)
		if err != nil {
			return nil, total, err
		}
		switch {
		case f.Status != "":
			total.N = t["channels:"+string(f.Status)]
		case f.IncludeGone:
			total.N = t.sum("channels:")
		default:
			total.N = t.sum("channels:", s.states.Gone...)
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
	order := "channels.id DESC"
	if expiring {
		order = "channels.active_till, channels.id"
	}
	rs, err := q.Joins("JOIN users ON users.id = channels.user_id").Select(adminChannelColumns).Order(order).Rows()
	if err != nil {
		return nil, total, err
	}
	defer rs.Close()
	var rows []AdminChannelRow
	for rs.Next() {
		var r AdminChannelRow
		if err := rs.Scan(&r.ID, &r.UserID, &r.Name, &r.Phone, &r.WhapiID, &r.Status, &r.Mode, &r.Linked, &r.LinkedPhone,
			&r.ActiveTill, &r.DaysAllocated, &r.LastSyncedAt, &r.CreatedAt, &r.OwnerEmail, &r.OwnerBalance, &r.OwnerMode); err != nil {
			return nil, total, err
		}
		rows = append(rows, r)
	}
	return rows, total, rs.Err()
}

// adminChannelColumns are what the admin's lists show of a channel (and
// the CSV export writes) and of its owner, in the order ListAdminChannels
// scans them. Not the sealed token; and scanned by hand, as a page of
// rows through GORM's reflection cost about as much as the query itself.
const adminChannelColumns = `channels.id, channels.user_id, channels.name, channels.phone, channels.whapi_id, channels.status,
	channels.mode, channels.linked, channels.linked_phone, channels.active_till, channels.days_allocated,
	channels.last_synced_at, channels.created_at, users.email, users.day_balance, users.allocation_mode`

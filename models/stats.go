package models

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// What the admin dashboard's plots read (issue 17, point 2). Each plot is
// one grouped query over an indexed span, whatever the number of channels
// (no row is read one by one): the spans are cut into buckets in SQL by a
// CASE over the buckets' bounds, which both databases read alike.

// PlotWeeks is how many weeks the dashboard's weekly plots show.
const PlotWeeks = 12

// WeekStarts are the starts of the weeks weeks up to now's, oldest first:
// Mondays, 00:00 UTC. The last one is the week now is in.
func WeekStarts(now time.Time, weeks int) []time.Time {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	out := make([]time.Time, weeks)
	for i := range out {
		out[i] = monday.AddDate(0, 0, -7*(weeks-1-i))
	}
	return out
}

// bucketCase is a SQL expression that numbers the bucket col falls in:
// 0 before bounds[0], i when bounds[i-1] <= col < bounds[i], len(bounds)
// from the last bound on. Its arguments are the bounds, in order.
func bucketCase(col string, bounds []time.Time) (string, []any) {
	var b strings.Builder
	args := make([]any, len(bounds))
	b.WriteString("CASE")
	for i, t := range bounds {
		fmt.Fprintf(&b, " WHEN %s < ? THEN %d", col, i)
		args[i] = t.UTC()
	}
	fmt.Fprintf(&b, " ELSE %d END", len(bounds))
	return b.String(), args
}

// WeekDays are the customers' days moved in one week.
type WeekDays struct {
	Start time.Time // Monday, 00:00 UTC
	// Allocated: days given from balances to channels, net of the
	// corrections of allocations WHAPI did not apply (kinds allocation and
	// correction, the daily summary's figure, DayMovesBetween); Returned:
	// unused days back from deleted channels (kind refund). Credits (plan
	// and admin) move no day to or from a channel and are left out.
	Allocated, Returned int64
}

// DaysByWeek sums the day ledger's allocations, corrections and refunds
// of each of the weeks weeks up to now (WeekStarts), by the rows' time.
// A correction counts in the week it was written, which may follow the
// week of the allocation it undoes. One grouped query over the ledger's
// created_at index (migration 0031).
func (s *Store) DaysByWeek(ctx context.Context, now time.Time, weeks int) ([]WeekDays, error) {
	starts := WeekStarts(now, weeks)
	out := make([]WeekDays, weeks)
	for i := range out {
		out[i].Start = starts[i]
	}
	bucket, args := bucketCase("created_at", starts[1:])
	var rows []struct {
		Bucket int
		Kind   LedgerKind
		Sum    int64
	}
	args = append(args, starts[0], starts[weeks-1].AddDate(0, 0, 7), []LedgerKind{LedgerAllocation, LedgerCorrection, LedgerRefund})
	err := s.db.WithContext(ctx).Raw(`SELECT `+bucket+` AS bucket, kind, COALESCE(SUM(delta), 0) AS sum FROM day_ledger
		WHERE created_at >= ? AND created_at < ? AND kind IN ? GROUP BY 1, kind`, args...).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: days by week: %w", err)
	}
	for _, r := range rows {
		switch r.Kind {
		case LedgerAllocation, LedgerCorrection:
			out[r.Bucket].Allocated -= r.Sum
		case LedgerRefund:
			out[r.Bucket].Returned += r.Sum
		}
	}
	return out, nil
}

// WeekStates are how many channels were in each status at the end of a
// week.
type WeekStates struct {
	Start time.Time // Monday, 00:00 UTC
	// At is the moment counted: the next Monday, or now for this week.
	At     time.Time
	Counts map[ChannelStatus]int64
}

// ChannelStatesByWeek counts the channels in each status at the end of
// each of the weeks weeks up to now (WeekStarts), from current — the
// channels by status now (the running totals, DashboardTotals) — walked
// back through the status history: each change of status after a week's
// end (channel_events, migration 0024, written with every change) is
// undone, and each channel created after it (created_at) is taken away
// from the status it started in (its first event's old status; its status
// now if it has none). Two grouped queries over indexed spans; no channel
// is read one by one.
//
// What it shows is the status whapidesk held for each channel, which is
// WHAPI's as of the last sync or webhook (an expiry is counted when a sync
// sees it). The history is pruned after WHAPIDESK_EVENTS_KEEP_DAYS (90 by
// default, more than the twelve weeks); with a shorter keep, the oldest
// weeks show the changes pruned away as if they had not happened.
func (s *Store) ChannelStatesByWeek(ctx context.Context, now time.Time, weeks int, current map[ChannelStatus]int64) ([]WeekStates, error) {
	starts := WeekStarts(now, weeks)
	// ends[i] is week i's end; the last week ends now.
	ends := make([]time.Time, weeks)
	copy(ends, starts[1:])
	ends[weeks-1] = now.UTC()
	out := make([]WeekStates, weeks)
	for i := range out {
		out[i] = WeekStates{Start: starts[i], At: ends[i], Counts: map[ChannelStatus]int64{}}
	}
	bucket, args := bucketCase("at", ends)
	var changes []struct {
		Bucket    int
		OldStatus ChannelStatus
		NewStatus ChannelStatus
		N         int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT `+bucket+` AS bucket, old_status, new_status, COUNT(*) AS n FROM channel_events
		WHERE at >= ? AND old_status <> new_status GROUP BY 1, old_status, new_status`, append(args, ends[0])...).Scan(&changes).Error
	if err != nil {
		return nil, fmt.Errorf("store: channel changes by week: %w", err)
	}
	cbucket, cargs := bucketCase("c.created_at", ends)
	var created []struct {
		Bucket int
		Status ChannelStatus
		N      int64
	}
	err = s.db.WithContext(ctx).Raw(`SELECT bucket, status, COUNT(*) AS n FROM (
			SELECT `+cbucket+` AS bucket, COALESCE((SELECT e.old_status FROM channel_events e WHERE e.channel_id = c.id
				ORDER BY e.at, e.id LIMIT 1), c.status) AS status
			FROM channels c WHERE c.created_at >= ?) AS recent GROUP BY bucket, status`, append(cargs, ends[0])...).Scan(&created).Error
	if err != nil {
		return nil, fmt.Errorf("store: channels created by week: %w", err)
	}
	// A row in bucket b (at >= ends[b-1], < ends[b]) happened after the
	// end of every week i < b: weeks 0..b-1 undo it.
	for i := range out {
		c := out[i].Counts
		for st, n := range current {
			c[st] = n
		}
		for _, r := range changes {
			if r.Bucket > i {
				c[r.NewStatus] -= r.N
				c[r.OldStatus] += r.N
			}
		}
		for _, r := range created {
			if r.Bucket > i {
				c[r.Status] -= r.N
			}
		}
	}
	return out, nil
}

// ExpiringDays counts, for each of the days days from today (UTC), the
// running channels (trial or active) whose paid time ends that day, from
// now on: day 0 is the rest of today. One grouped query over the running
// channels' active-till index (channels_running_till, migration 0004): its
// status list is written as that partial index's predicate is, so that
// the index applies (as ListAdminChannels' expiring filter does), not
// built from the lifecycle's sets.
func (s *Store) ExpiringDays(ctx context.Context, now time.Time, days int) ([]int64, error) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	bounds := make([]time.Time, days-1)
	for i := range bounds {
		bounds[i] = today.AddDate(0, 0, i+1)
	}
	bucket, args := bucketCase("active_till", bounds)
	var rows []struct {
		Bucket int
		N      int64
	}
	// Written as the partial index channels_running_till is, so that it
	// applies (as ListAdminChannels's expiring filter).
	err := s.db.WithContext(ctx).Raw(`SELECT `+bucket+` AS bucket, COUNT(*) AS n FROM channels
		WHERE status IN ('trial', 'active') AND active_till >= ? AND active_till < ? GROUP BY 1`,
		append(args, now, today.AddDate(0, 0, days))...).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: expiring by day: %w", err)
	}
	out := make([]int64, days)
	for _, r := range rows {
		out[r.Bucket] = r.N
	}
	return out, nil
}

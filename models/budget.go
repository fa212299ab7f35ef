package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// WHAPI's create budget and the pairing-code limits, counted in the
// database (migration 0015): every process on the database shares one
// count, a claim is taken before WHAPI is called, and a refused claim
// writes nothing but one audit event per customer (or channel) and window,
// whose count goes up with each repeat.

// Outcomes of a create attempt (create_attempts.outcome).
const (
	AttemptPending = "pending" // claimed, WHAPI's answer not recorded yet
	AttemptCreated = "created"
	AttemptFailed  = "failed"
	AttemptRefused = "refused" // WHAPI's own 429: its budget is spent
	AttemptUnknown = "unknown" // no answer
)

// Scopes of a refused claim (LimitError.Scope).
const (
	// ScopeCustomer: the customer's share of new channels in the window
	// (or their codes across their channels) is used.
	ScopeCustomer = "customer"
	// ScopePartner: the partner-wide create budget is used.
	ScopePartner = "partner"
	// ScopeUpstream: WHAPI answered a create with 429, so no create is sent
	// before it said (create_budget.blocked_until).
	ScopeUpstream = "upstream"
	// ScopeChannel: the channel's pairing codes in the window are used.
	ScopeChannel = "channel"
)

// LimitError is a claim the database refused: nothing was written but the
// counted audit event. Next is when a claim may pass again (the oldest
// counted row that must leave the window does then).
type LimitError struct {
	Scope         string
	Next          time.Time
	Used, Allowed int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit reached (%s, %d of %d used); next at %s", e.Scope, e.Used, e.Allowed, e.Next.UTC().Format(time.RFC3339))
}

// CreateBudget is the partner-wide limit of PUT /channels: at most Limit
// in any rolling Window.
type CreateBudget struct {
	Limit  int
	Window time.Duration
}

// shareSQL is a customer's share of the create budget: their active plan's
// channel limit plus settings.create_share_extra (0 without an active
// plan). One parameter: the user id.
const shareSQL = `COALESCE((SELECT p.max_channels FROM subscriptions s JOIN plans p ON p.id = s.plan_id
		WHERE s.user_id = ? AND s.status = 'active'), 0) + (SELECT create_share_extra FROM settings WHERE id = 1)`

// ReserveChannelWithin is ReserveChannel with a claim on the create
// budget, at at (the service's clock), in the same transaction: after the
// plan's check, one conditional INSERT … SELECT adds a create attempt only
// while the partner-wide count in b.Window is below b.Limit, the
// customer's count below their share (shareSQL) and WHAPI has not said
// its budget is spent (BlockCreates). On PostgreSQL the transaction first
// locks the one create_budget row (lockRows), which queues
// concurrent claims, so they never pass the limits together; SQLite's
// IMMEDIATE transactions run one at a time on the one write connection
// and need no lock. Attempts older than the window are pruned in the same
// transaction.
//
// A refused claim is *LimitError and leaves no channel, operation or
// attempt: only the counted audit event (CountRefusal). attempt is the
// claimed attempt's id, for SettleCreateAttempt.
func (s *Store) ReserveChannelWithin(ctx context.Context, actor Actor, userID int64, name, phone string, b CreateBudget, at time.Time) (ch *Channel, op *Operation, attempt int64, err error) {
	at = at.UTC()
	ch, op, err = s.reserveChannel(ctx, actor, userID, name, phone, func(tx *gorm.DB) error {
		id, cerr := s.claimCreate(tx, userID, b, at)
		attempt = id
		return cerr
	})
	var le *LimitError
	if errors.As(err, &le) {
		action, why := "channel.create_refused", fmt.Sprintf("the customer's share of new channels is used (%d of %d in %s)", le.Used, le.Allowed, minutes(b.Window))
		switch le.Scope {
		case ScopePartner:
			why = fmt.Sprintf("WHAPI's budget of new channels is used (%d of %d in %s)", le.Used, le.Allowed, minutes(b.Window))
		case ScopeUpstream:
			action, why = "channel.create_refused_whapi", "WHAPI answered a create with 429 (its budget is spent)"
		}
		if rerr := s.CountRefusal(ctx, actor, action, fmt.Sprintf("user %d", userID), why, le.Next, b.Window, at); rerr != nil {
			return nil, nil, 0, rerr
		}
		return nil, nil, 0, err
	}
	if err != nil {
		return nil, nil, 0, err
	}
	return ch, op, attempt, nil
}

// claimCreate claims one create attempt of userID inside tx (see
// ReserveChannelWithin).
func (s *Store) claimCreate(tx *gorm.DB, userID int64, b CreateBudget, at time.Time) (int64, error) {
	since := at.Add(-b.Window)
	// The lock is PostgreSQL's: on SQLite the IMMEDIATE transaction holds
	// the one write lock already.
	if s.pg {
		if _, err := lockRows(tx, "create_budget", "id = 1"); err != nil {
			return 0, err
		}
	}
	if err := tx.Exec(`DELETE FROM create_attempts WHERE created_at <= ?`, since).Error; err != nil {
		return 0, err
	}
	var ids []int64
	err := tx.Raw(`INSERT INTO create_attempts (user_id, created_at, outcome)
		SELECT ?, ?, ?
		WHERE (SELECT COUNT(*) FROM create_attempts WHERE created_at > ?) < ?
		  AND (SELECT COUNT(*) FROM create_attempts WHERE user_id = ? AND created_at > ?) < (`+shareSQL+`)
		  AND NOT EXISTS (SELECT 1 FROM create_budget WHERE id = 1 AND blocked_until > ?)
		RETURNING id`,
		userID, at, AttemptPending, since, b.Limit, userID, since, userID, at).Scan(&ids).Error
	if err != nil {
		return 0, err
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	// Refused: say which limit and when it frees.
	var n struct{ Partner, Mine, Share int64 }
	err = tx.Raw(`SELECT (SELECT COUNT(*) FROM create_attempts WHERE created_at > ?) AS partner,
			(SELECT COUNT(*) FROM create_attempts WHERE user_id = ? AND created_at > ?) AS mine,
			(`+shareSQL+`) AS share`, since, userID, since, userID).Scan(&n).Error
	if err != nil {
		return 0, err
	}
	var budget struct {
		BlockedUntil *time.Time `gorm:"column:blocked_until"`
	}
	if err := tx.Table("create_budget").Select("blocked_until").Where("id = 1").Scan(&budget).Error; err != nil {
		return 0, err
	}
	var le *LimitError
	if n.Mine >= n.Share {
		next, err := frees(tx.Table("create_attempts").Where("user_id = ? AND created_at > ?", userID, since), n.Mine-n.Share, b.Window, at)
		if err != nil {
			return 0, err
		}
		le = &LimitError{Scope: ScopeCustomer, Next: next, Used: n.Mine, Allowed: n.Share}
	}
	if n.Partner >= int64(b.Limit) {
		next, err := frees(tx.Table("create_attempts").Where("created_at > ?", since), n.Partner-int64(b.Limit), b.Window, at)
		if err != nil {
			return 0, err
		}
		if le == nil || next.After(le.Next) {
			le = &LimitError{Scope: ScopePartner, Next: next, Used: n.Partner, Allowed: int64(b.Limit)}
		}
	}
	if bu := budget.BlockedUntil; bu != nil && bu.After(at) && (le == nil || bu.After(le.Next)) {
		le = &LimitError{Scope: ScopeUpstream, Next: bu.UTC(), Used: n.Partner, Allowed: int64(b.Limit)}
	}
	if le == nil {
		return 0, errors.New("store: create claim refused, but no limit is reached")
	}
	return 0, le
}

// frees is when the count of the rows q selects drops by one: the
// (skip+1)-th oldest leaves the window then.
func frees(q *gorm.DB, skip int64, window time.Duration, at time.Time) (time.Time, error) {
	var oldest []time.Time
	if err := q.Order("created_at").Offset(int(skip)).Limit(1).Pluck("created_at", &oldest).Error; err != nil {
		return time.Time{}, err
	}
	if len(oldest) == 0 {
		return at.Add(window), nil // a share of 0: nothing in the window to wait for
	}
	return oldest[0].UTC().Add(window), nil
}

// SettleCreateAttempt records WHAPI's answer to a claimed attempt (once:
// a settled attempt is left as it is). The attempt counts either way.
func (s *Store) SettleCreateAttempt(ctx context.Context, id int64, outcome string) error {
	return s.db.WithContext(ctx).Exec(`UPDATE create_attempts SET outcome = ? WHERE id = ? AND outcome = ?`,
		outcome, id, AttemptPending).Error
}

// BlockCreates records that WHAPI refused a create with 429: no create
// claim passes before until (a later block already recorded stays).
func (s *Store) BlockCreates(ctx context.Context, until time.Time) error {
	until = until.UTC()
	return s.db.WithContext(ctx).Exec(`UPDATE create_budget SET blocked_until = ?
		WHERE id = 1 AND (blocked_until IS NULL OR blocked_until < ?)`, until, until).Error
}

// CreatesUsed is the partner-wide count of create attempts in the window
// before at.
func (s *Store) CreatesUsed(ctx context.Context, at time.Time, window time.Duration) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("create_attempts").Where("created_at > ?", at.UTC().Add(-window)).Count(&n).Error
	return n, err
}

// PairingLimits are the limits of pairing codes: at most PerChannel per
// channel and PerCustomer per customer (across their channels) in any
// rolling Window.
type PairingLimits struct {
	PerChannel, PerCustomer int
	Window                  time.Duration
}

// ClaimPairingCode claims one pairing code of ch at at, before WHAPI is
// asked for it: one conditional INSERT … SELECT in a transaction that
// first locks the owner's row (so concurrent claims of any of their
// channels count one after another, on SQLite and PostgreSQL alike), and
// prunes codes older than the window. A refused claim is *LimitError
// (ScopeChannel or ScopeCustomer) and writes only the counted audit event.
func (s *Store) ClaimPairingCode(ctx context.Context, actor Actor, ch *Channel, l PairingLimits, at time.Time) error {
	at = at.UTC()
	since := at.Add(-l.Window)
	var le *LimitError
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		locked, err := lockRows(tx, "users", "id = ?", ch.UserID)
		if err != nil {
			return err
		}
		if locked == 0 {
			return ErrNotFound
		}
		if err := tx.Exec(`DELETE FROM pairing_codes WHERE created_at <= ?`, since).Error; err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO pairing_codes (channel_id, user_id, created_at)
			SELECT ?, ?, ?
			WHERE (SELECT COUNT(*) FROM pairing_codes WHERE channel_id = ? AND created_at > ?) < ?
			  AND (SELECT COUNT(*) FROM pairing_codes WHERE user_id = ? AND created_at > ?) < ?`,
			ch.ID, ch.UserID, at, ch.ID, since, l.PerChannel, ch.UserID, since, l.PerCustomer)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		var n struct{ Channel, Customer int64 }
		if err := tx.Raw(`SELECT (SELECT COUNT(*) FROM pairing_codes WHERE channel_id = ? AND created_at > ?) AS channel,
				(SELECT COUNT(*) FROM pairing_codes WHERE user_id = ? AND created_at > ?) AS customer`,
			ch.ID, since, ch.UserID, since).Scan(&n).Error; err != nil {
			return err
		}
		if n.Channel >= int64(l.PerChannel) {
			next, err := frees(tx.Table("pairing_codes").Where("channel_id = ? AND created_at > ?", ch.ID, since), n.Channel-int64(l.PerChannel), l.Window, at)
			if err != nil {
				return err
			}
			le = &LimitError{Scope: ScopeChannel, Next: next, Used: n.Channel, Allowed: int64(l.PerChannel)}
		}
		if n.Customer >= int64(l.PerCustomer) {
			next, err := frees(tx.Table("pairing_codes").Where("user_id = ? AND created_at > ?", ch.UserID, since), n.Customer-int64(l.PerCustomer), l.Window, at)
			if err != nil {
				return err
			}
			if le == nil || next.After(le.Next) {
				le = &LimitError{Scope: ScopeCustomer, Next: next, Used: n.Customer, Allowed: int64(l.PerCustomer)}
			}
		}
		if le == nil {
			return errors.New("store: pairing code claim refused, but no limit is reached")
		}
		return nil
	})
	if err != nil || le == nil {
		return err
	}
	why := fmt.Sprintf("the channel's pairing codes are used (%d of %d in %s)", le.Used, le.Allowed, minutes(l.Window))
	if le.Scope == ScopeCustomer {
		why = fmt.Sprintf("the customer's pairing codes are used (%d of %d in %s, across their channels)", le.Used, le.Allowed, minutes(l.Window))
	}
	if err := s.CountRefusal(ctx, actor, "channel.pairing_refused", channelTarget(ch), why, le.Next, l.Window, at); err != nil {
		return err
	}
	return le
}

// CountRefusal records a refusal of action on target at at: the first in
// a window is a new audit event; each repeat in the window after it adds
// one to that event's count (repeats) and rewrites its words, so a burst
// of refusals writes one row, not one each.
func (s *Store) CountRefusal(ctx context.Context, actor Actor, action, target, why string, next time.Time, window time.Duration, at time.Time) error {
	at = at.UTC()
	again := "allowed again at " + next.UTC().Format("15:04 UTC")
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ev AuditEvent
		err := tx.Where("action = ? AND target = ? AND created_at > ?", action, target, at.Add(-window)).Order("id DESC").First(&ev).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return s.audit(tx, actor, action, target, "refused: "+why+"; "+again)
		case err != nil:
			return err
		}
		n := ev.Repeats + 1
		detail := fmt.Sprintf("refused %d times since %s (last by %s): %s; %s", n, ev.CreatedAt.UTC().Format("15:04 UTC"), actorName(actor), why, again)
		return tx.Model(&AuditEvent{}).Where("id = ?", ev.ID).Updates(map[string]any{"repeats": n, "detail": detail}).Error
	})
}

func actorName(a Actor) string {
	if a.Email == "" {
		return "system"
	}
	return a.Email
}

// minutes says a window in words: "30 minutes".
func minutes(d time.Duration) string {
	if m := int(d / time.Minute); m != 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

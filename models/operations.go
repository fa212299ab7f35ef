package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// OpKind is the kind of WHAPI operation journalled.
type OpKind string

// Operation kinds.
const (
	OpCreate OpKind = "create"
	OpExtend OpKind = "extend"
	OpDelete OpKind = "delete"
)

// OpState is where an operation stands.
type OpState string

// Operation states: reserved → sent → done | failed. A reserved operation
// was never sent (safe to undo); a sent one may have reached WHAPI, so it
// is settled only from what WHAPI says.
const (
	OpReserved OpState = "reserved"
	OpSent     OpState = "sent"
	OpDone     OpState = "done"
	OpFailed   OpState = "failed"
)

// Operation is one journalled WHAPI change.
type Operation struct {
	ID         int64      `gorm:"primaryKey"`
	Kind       OpKind     `gorm:"column:kind"`
	ChannelID  int64      `gorm:"column:channel_id"`
	UserID     int64      `gorm:"column:user_id"`
	Days       int64      `gorm:"column:days"`
	Comment    string     `gorm:"column:comment"`
	Actor      string     `gorm:"column:actor"`
	State      OpState    `gorm:"column:state"`
	TillBefore *time.Time `gorm:"column:till_before"`
	Result     string     `gorm:"column:result"`
	Boot       string     `gorm:"column:boot"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	UpdatedAt  time.Time  `gorm:"column:updated_at"`
}

// TableName implements gorm's Tabler.
func (Operation) TableName() string { return "operations" }

// ErrSettled is returned when an operation was already settled: whoever
// settled it first did the bookkeeping, exactly once.
var ErrSettled = errors.New("operation already settled")

// ErrAlreadyDeleted is returned for a change to a deleted channel.
var ErrAlreadyDeleted = errors.New("the channel is deleted already")

// ErrChannelBusy is returned when a channel is not in a state that allows
// the change (e.g. being deleted).
var ErrChannelBusy = errors.New("the channel cannot be changed in its current state")

// settle moves an open operation to done or failed inside tx — a
// conditional update, so only one settler wins — and returns it as
// settled (the update's RETURNING: one statement).
func (s *Store) settle(tx *gorm.DB, opID int64, to OpState, result string) (*Operation, error) {
	var op Operation
	res := tx.Model(&op).Clauses(clause.Returning{}).Where("id = ? AND state IN ?", opID, []OpState{OpReserved, OpSent}).
		Updates(map[string]any{"state": to, "result": result, "updated_at": s.now()})
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected != 1 || op.ID != opID {
		return nil, ErrSettled
	}
	return &op, nil
}

// reread reads ch again inside tx, after tx journalled an operation of it.
// The database allows one open operation per channel, so that insert waited
// for any other change of the channel still open to settle (and its
// settling updates the operation before the channel, as tx does: the two
// never wait on each other). What it settled shows now, even when it was
// settled after ch was first read: by another instance, say.
func (s *Store) reread(tx *gorm.DB, ch *Channel) error {
	var fresh Channel
	if err := tx.First(&fresh, ch.ID).Error; err != nil {
		return notFound(err)
	}
	*ch = fresh
	return nil
}

// createOp journals an operation. The database allows one open operation
// per channel (migration 0005), so a clash means another change of the
// channel is not settled yet: ErrChannelBusy.
func createOp(tx *gorm.DB, op *Operation) error {
	err := tx.Create(op).Error
	if isDuplicate(err) {
		return ErrChannelBusy
	}
	return err
}

// checkFreeSlot fails with ErrNoActivePlan or ErrPlanLimit unless the
// customer's active plan has room for channel channelID (not yet counted)
// beside the slots their other channels hold (stateSQL.slotsUsed). On
// PostgreSQL it first locks the customer's row (lockCustomer), so that two
// transactions taking a slot of one customer count one after the other;
// on SQLite the IMMEDIATE transaction holds the one write lock already.
func (s *Store) checkFreeSlot(tx *gorm.DB, userID, channelID int64) error {
	if s.pg {
		if err := lockCustomer(tx, userID); err != nil {
			return err
		}
	}
	var row struct {
		Live int64
		Max  *int64
	}
	err := tx.Raw(`SELECT
			(`+s.sql.slotsUsed+`) AS live,
			(SELECT p.max_channels FROM subscriptions s JOIN plans p ON p.id = s.plan_id
			 WHERE s.user_id = ? AND s.status = 'active') AS max`, userID, channelID, userID).Scan(&row).Error
	switch {
	case err != nil:
		return err
	case row.Max == nil:
		return ErrNoActivePlan
	case row.Live >= *row.Max:
		return ErrPlanLimit
	}
	return nil
}

// lockCustomer locks the user's row until tx ends (lockRows), before a
// check-then-write of theirs that SQL cannot say in one conditional
// statement: a count of their channels, then an insert. SQLite's
// IMMEDIATE transactions already run one at a time; PostgreSQL's READ
// COMMITTED would let two of them count the same rows and both write, and
// this row lock queues them instead.
func lockCustomer(tx *gorm.DB, userID int64) error {
	_, err := lockRows(tx, "users", "id = ?", userID)
	return err
}

// lockPartnerEstimate locks the settings row until tx ends, before an
// entry whose insert is conditional on the partner's estimate (the sum of
// the totals), so that two entries at the same moment are judged one after
// the other on PostgreSQL as on SQLite (see lockCustomer).
func lockPartnerEstimate(tx *gorm.DB) error {
	_, err := lockRows(tx, "settings", "id = 1")
	return err
}

// MarkSent records that an operation is about to reach WHAPI. From here on
// a crash leaves it for Reconcile to settle from what WHAPI says.
func (s *Store) MarkSent(ctx context.Context, opID int64) error {
	res := s.db.WithContext(ctx).Model(&Operation{}).Where("id = ? AND state = ?", opID, OpReserved).
		Updates(map[string]any{"state": OpSent, "updated_at": s.now()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrSettled
	}
	return nil
}

// OperationByID returns an operation.
func (s *Store) OperationByID(ctx context.Context, id int64) (*Operation, error) {
	var op Operation
	if err := s.db.WithContext(ctx).First(&op, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &op, nil
}

// AbandonedAfter is how old an open operation of an earlier process must be
// before Reconcile settles it: longer than one WHAPI call may take (15 s),
// so a request the dead process had in flight has ended at WHAPI too.
const AbandonedAfter = 20 * time.Second

// OpenOperations returns operations not settled yet and either last touched
// at or before olderThan, or journalled by an earlier opening of the
// database (an earlier process) and older than AbandonedAfter: whapidesk
// runs as one instance (design §8 would take a database lock per instance
// first), so such an operation has nobody left to settle it and waiting
// for olderThan would only delay the repair after a crash.
// before olderThan, oldest first.
func (s *Store) OpenOperations(ctx context.Context, olderThan time.Time) ([]Operation, error) {
	var ops []Operation
	err := s.db.WithContext(ctx).Where("state IN ? AND (updated_at <= ? OR (boot <> ? AND updated_at <= ?))",
		[]OpState{OpReserved, OpSent}, olderThan, s.boot, s.now().Add(-AbandonedAfter)).
		Order("id").Find(&ops).Error
	return ops, err
}

// ErrNotDue is ReserveTopUp's refusal: the channel is not due for days
// (another extend, another instance's maybe, got there first).
var ErrNotDue = errors.New("the channel is not due for days")

// ReserveExtend debits days from the channel owner's balance (conditional
// update + ledger row) and journals the extend, in one transaction. The
// channel's activeTill must be WHAPI's (read back after its last extend),
// or it is ErrChannelBusy: an extend left unanswered is judged from it.
func (s *Store) ReserveExtend(ctx context.Context, actor Actor, channelID, days int64, comment string) (*Operation, error) {
	return s.reserveExtend(ctx, actor, channelID, days, comment, nil)
}

// ReserveTopUp is ReserveExtend for the automatic top-up: it reserves only
// while the channel is due — no paid days yet, or its activeTill before
// until — as the channel is once the reservation holds it; otherwise
// ErrNotDue. Several instances may find one channel due at once: the first
// to reserve extends it, the others find it no longer due.
func (s *Store) ReserveTopUp(ctx context.Context, actor Actor, channelID, days int64, comment string, until time.Time) (*Operation, error) {
	return s.reserveExtend(ctx, actor, channelID, days, comment, &until)
}

// extendable says whether ch, as read, takes an extend: a channel WHAPI
// holds in a state that takes days, whose activeTill is WHAPI's (not
// extended since it was read back), and — with dueBefore, for the
// top-up — still due: no paid days, or activeTill before dueBefore.
func (s *Store) extendable(ch *Channel, dueBefore *time.Time) error {
	if ch.WhapiID == nil || !inSet(s.states.Extendable, ch.Status) {
		return ErrChannelBusy
	}
	if !ch.TillConfirmed && ch.DaysAllocated > 0 {
		if dueBefore != nil {
			return ErrNotDue // judged again, once read back, by a later run
		}
		return ErrChannelBusy
	}
	if dueBefore != nil && ch.DaysAllocated > 0 && ch.ActiveTill != nil && !ch.ActiveTill.Before(*dueBefore) {
		return ErrNotDue
	}
	return nil
}

func (s *Store) reserveExtend(ctx context.Context, actor Actor, channelID, days int64, comment string, dueBefore *time.Time) (*Operation, error) {
	var op Operation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.First(&ch, channelID).Error; err != nil {
			return notFound(err)
		}
		// Judged on this reading first, so that a refusal writes nothing;
		// and again once the operation is journalled (below).
		if err := s.extendable(&ch, dueBefore); err != nil {
			return err
		}
		if s.states.revives(ch.Status) {
			// Days bring an expired channel back: it takes a plan slot again,
			// so the plan must have one free.
			if err := s.checkFreeSlot(tx, ch.UserID, ch.ID); err != nil {
				return err
			}
		}
		now := s.now()
		op = Operation{Kind: OpExtend, ChannelID: ch.ID, UserID: ch.UserID, Days: days, Comment: comment, Actor: actor.Email,
			State: OpReserved, TillBefore: ch.ActiveTill, Boot: s.boot, CreatedAt: now, UpdatedAt: now}
		if err := createOp(tx, &op); err != nil {
			return err
		}
		if err := s.reread(tx, &ch); err != nil {
			return err
		}
		if err := s.extendable(&ch, dueBefore); err != nil {
			return err
		}
		if err := tx.Model(&Operation{}).Where("id = ?", op.ID).UpdateColumn("till_before", ch.ActiveTill).Error; err != nil {
			return err
		}
		op.TillBefore = ch.ActiveTill
		cid, oid := ch.ID, op.ID
		if err := s.addDays(tx, LedgerEntry{UserID: ch.UserID, ChannelID: &cid, OpID: &oid, Delta: -days, Kind: LedgerAllocation,
			Comment: comment, Actor: actor.Email}); err != nil {
			return err
		}
		return s.audit(tx, actor, "channel.extend", channelTarget(&ch), fmt.Sprintf("%d days reserved: %s", days, comment))
	})
	if err != nil {
		return nil, err
	}
	return &op, nil
}

// ConfirmExtend settles an extend WHAPI applied: the channel's allocated
// days grow and the partner's estimated balance shrinks.
// Each then runs in the same transaction with the channel as extended.
func (s *Store) ConfirmExtend(ctx context.Context, opID int64, then ...func(tx *sql.Tx, ch *Channel) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		op, err := s.settle(tx, opID, OpDone, "extended")
		if err != nil {
			return err
		}
		before, err := channelStateOf(tx, op.ChannelID)
		if err != nil {
			return err
		}
		// WHAPI's new activeTill is not known here: the caller reads it
		// back; till then (or if that fails) the channel says so. An
		// expired channel is live again: it is active from now, so it holds
		// its plan slot even if the read-back fails.
		if err := tx.Model(&Channel{}).Where("id = ?", op.ChannelID).Updates(map[string]any{
			"days_allocated": gorm.Expr("days_allocated + ?", op.Days), "till_confirmed": false, "extend_after": nil, "updated_at": s.now(),
			"status": gorm.Expr("CASE WHEN status IN ? THEN ? ELSE status END", s.states.SlotReviving, ChannelActive),
			// Revived, it is meant to run: WHAPI keeps it stopped until it is
			// started, which the extend's read-back does.
			"stopped": gorm.Expr("CASE WHEN status IN ? THEN FALSE ELSE stopped END", s.states.SlotReviving)}).Error; err != nil {
			return err
		}
		if err := s.noteOperation(tx, op, before); err != nil {
			return err
		}
		cid, oid := op.ChannelID, op.ID
		if err := s.addPartnerDays(tx, PartnerEntry{Delta: -op.Days, Kind: "extend", ChannelID: &cid, OpID: &oid, Comment: op.Comment, Actor: op.Actor}); err != nil {
			return err
		}
		return s.thenChannel(tx, op.ChannelID, then)
	})
}

// FailExtend settles an extend WHAPI did not apply: the reserved days go
// back to the customer (a correction row).
func (s *Store) FailExtend(ctx context.Context, opID int64, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		_, err := s.failExtend(tx, opID, reason)
		return err
	})
}

// DeferExtend settles an extend WHAPI refused because the channel was
// extended moments ago: the reserved days go back to the customer (a
// correction row), and the channel records that WHAPI takes no extend of
// it before until (Channel.ExtendAfter), all in one transaction.
func (s *Store) DeferExtend(ctx context.Context, opID int64, until time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		op, err := s.failExtend(tx, opID, "refused upstream: extended too recently")
		if err != nil {
			return err
		}
		return tx.Model(&Channel{}).Where("id = ?", op.ChannelID).
			Updates(map[string]any{"extend_after": until.UTC(), "updated_at": s.now()}).Error
	})
}

// failExtend settles an extend as failed inside tx and gives its days back.
func (s *Store) failExtend(tx *gorm.DB, opID int64, reason string) (*Operation, error) {
	op, err := s.settle(tx, opID, OpFailed, reason)
	if err != nil {
		return nil, err
	}
	cid, oid := op.ChannelID, op.ID
	return op, s.addDays(tx, LedgerEntry{UserID: op.UserID, ChannelID: &cid, OpID: &oid, Delta: op.Days, Kind: LedgerCorrection,
		Comment: "not extended (" + reason + "): days given back", Actor: SystemActor.Email})
}

// ReserveDelete marks a channel WHAPI holds (StateSets.AtWhapi) as being
// deleted and journals the delete. A channel WHAPI never had
// (StateSets.LocalDeletion) is deleted here at once, and then the operation
// returned is nil. Any other state is refused: ErrAlreadyDeleted, or
// ErrChannelBusy while a change of it is in flight — an extend settled but
// its activeTill not read back among them. The operation's TillBefore is
// the activeTill the channel has once the reservation holds it.
func (s *Store) ReserveDelete(ctx context.Context, actor Actor, channelID int64) (*Operation, error) {
	var op *Operation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.First(&ch, channelID).Error; err != nil {
			return notFound(err)
		}
		now := s.now()
		before, err := channelStateOf(tx, ch.ID)
		if err != nil {
			return err
		}
		switch {
		case inSet(s.states.LocalDeletion, ch.Status):
			if err := tx.Model(&Channel{}).Where("id = ?", ch.ID).Updates(map[string]any{"status": ChannelDeleted, "deleted_at": now, "updated_at": now}).Error; err != nil {
				return err
			}
			if err := s.noteChannel(tx, ch.ID, before, sourceOfActor(actor, ch.UserID)); err != nil {
				return err
			}
			return s.audit(tx, actor, "channel.delete", channelTarget(&ch), "never created at WHAPI: removed")
		case inSet(s.states.AtWhapi, ch.Status):
		case ch.Status == ChannelDeleted:
			return ErrAlreadyDeleted
		default:
			return ErrChannelBusy
		}
		if !ch.TillConfirmed && ch.DaysAllocated > 0 {
			return ErrChannelBusy // judged again below, once the operation is journalled
		}
		op = &Operation{Kind: OpDelete, ChannelID: ch.ID, UserID: ch.UserID, Actor: actor.Email, State: OpReserved,
			TillBefore: ch.ActiveTill, Result: string(ch.Status), Boot: s.boot, CreatedAt: now, UpdatedAt: now}
		if err := createOp(tx, op); err != nil {
			return err
		}
		res := tx.Model(&Channel{}).Where("id = ? AND status = ?", ch.ID, ch.Status).Updates(map[string]any{"status": ChannelDeleting, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrChannelBusy
		}
		if err := s.noteChannel(tx, ch.ID, before, sourceOfActor(actor, ch.UserID)); err != nil {
			return err
		}
		// The days given back are counted from the activeTill the channel
		// has now, so it must be WHAPI's: an extend settled since ch was
		// read (another instance's, say) and not read back leaves it short.
		if err := s.reread(tx, &ch); err != nil {
			return err
		}
		if !ch.TillConfirmed && ch.DaysAllocated > 0 {
			return ErrChannelBusy
		}
		if err := tx.Model(&Operation{}).Where("id = ?", op.ID).UpdateColumn("till_before", ch.ActiveTill).Error; err != nil {
			return err
		}
		op.TillBefore = ch.ActiveTill
		return s.audit(tx, actor, "channel.delete", channelTarget(&ch), "delete requested")
	})
	return op, err
}

// ConfirmDelete settles a delete WHAPI applied (or a channel already gone):
// the channel is deleted and refundDays of unused paid days go back to the
// customer (refund row) and to the partner's estimate.
// Each then runs in the same transaction with the channel as deleted.
func (s *Store) ConfirmDelete(ctx context.Context, opID int64, refundDays int64, then ...func(tx *sql.Tx, ch *Channel) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		op, err := s.settle(tx, opID, OpDone, fmt.Sprintf("deleted; %d days returned", refundDays))
		if err != nil {
			return err
		}
		before, err := channelStateOf(tx, op.ChannelID)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.Model(&Channel{}).Where("id = ?", op.ChannelID).Updates(map[string]any{
			"status": ChannelDeleted, "deleted_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		if err := s.noteOperation(tx, op, before); err != nil {
			return err
		}
		if refundDays > 0 {
			cid, oid := op.ChannelID, op.ID
			if err := s.addDays(tx, LedgerEntry{UserID: op.UserID, ChannelID: &cid, OpID: &oid, Delta: refundDays, Kind: LedgerRefund,
				Comment: "channel deleted: unused days back", Actor: op.Actor}); err != nil {
				return err
			}
			if err := s.addPartnerDays(tx, PartnerEntry{Delta: refundDays, Kind: "return", ChannelID: &cid, OpID: &oid, Comment: "channel deleted"}); err != nil {
				return err
			}
		}
		return s.thenChannel(tx, op.ChannelID, then)
	})
}

// FailDelete settles a delete WHAPI refused: the channel goes back to the
// state it had.
func (s *Store) FailDelete(ctx context.Context, opID int64, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var before Operation
		if err := tx.First(&before, opID).Error; err != nil {
			return notFound(err)
		}
		op, err := s.settle(tx, opID, OpFailed, reason)
		if err != nil {
			return err
		}
		prev := ChannelStatus(before.Result)
		if prev == "" {
			prev = ChannelActive
		}
		was, err := channelStateOf(tx, op.ChannelID)
		if err != nil {
			return err
		}
		if err := tx.Model(&Channel{}).Where("id = ? AND status = ?", op.ChannelID, ChannelDeleting).
			Updates(map[string]any{"status": prev, "last_error": reason, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.noteOperation(tx, op, was)
	})
}

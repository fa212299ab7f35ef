package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PartnerKind is what moved the partner's estimated WHAPI day balance.
type PartnerKind string

// The kinds of partner ledger entries (migration 0012). An admin records
// purchases and corrections, and reverses them; whapidesk itself records
// extends and returns when it extends or deletes a channel.
const (
	PartnerPurchase   PartnerKind = "purchase"   // days bought from WHAPI: positive
	PartnerCorrection PartnerKind = "correction" // the estimate put right: either sign
	PartnerReversal   PartnerKind = "reversal"   // an earlier purchase or correction undone
	PartnerExtend     PartnerKind = "extend"     // days extended to a channel: negative
	PartnerReturn     PartnerKind = "return"     // days WHAPI gave back for a deleted channel
)

// Recorded reports whether entries of kind k are an admin's (purchase,
// correction, reversal), with a required note, rather than whapidesk's.
func (k PartnerKind) Recorded() bool {
	return k == PartnerPurchase || k == PartnerCorrection || k == PartnerReversal
}

// PartnerEntry is one move of the partner's estimated WHAPI day balance.
// The ledger is append-only: a mistake is undone by a reversal, a new
// entry of the opposite days that points at it (ReversesID).
type PartnerEntry struct {
	ID         int64       `gorm:"primaryKey"`
	Delta      int64       `gorm:"column:delta"`
	Kind       PartnerKind `gorm:"column:kind"`
	ChannelID  *int64      `gorm:"column:channel_id"`
	OpID       *int64      `gorm:"column:op_id"`
	ReversesID *int64      `gorm:"column:reverses_id"`
	Comment    string      `gorm:"column:comment"` // the note
	Actor      string      `gorm:"column:actor"`
	CreatedAt  time.Time   `gorm:"column:created_at"`
}

// TableName implements gorm's Tabler.
func (PartnerEntry) TableName() string { return "partner_ledger" }

// partnerEstimateSQL is the estimate of the partner's balance (the sum of
// every partner ledger row), read from the running totals the ledger's
// triggers keep in the same transaction (migration 0004).
const partnerEstimateSQL = `(SELECT COALESCE(SUM(n), 0) FROM totals WHERE name >= 'partner_ledger:' AND name < 'partner_ledger;')`

// partnerEstimate reads the estimate inside tx.
func partnerEstimate(tx *gorm.DB) (int64, error) {
	var n int64
	err := tx.Raw("SELECT " + partnerEstimateSQL).Scan(&n).Error
	return n, err
}

// addPartnerDays appends to the partner's estimated balance inside tx.
func (s *Store) addPartnerDays(tx *gorm.DB, e PartnerEntry) error {
	if e.Delta == 0 {
		return nil
	}
	e.CreatedAt = s.now()
	return tx.Create(&e).Error
}

// NewPartnerEntry is an entry an admin records: a purchase or a
// correction, with its note.
type NewPartnerEntry struct {
	Kind PartnerKind
	Days int64
	Note string
	// AllowBelowZero records it even when it takes the estimate below
	// zero; otherwise such an entry is refused with a *BelowZeroError.
	AllowBelowZero bool
}

// BelowZeroError refuses an entry that would take the partner's estimated
// balance below zero (an entry that takes days off and leaves less than
// zero; one that adds days never does, even to an estimate below zero
// already): nothing was recorded. From is the estimate when it
// was refused, To what the entry would have made it.
type BelowZeroError struct {
	Days, From, To int64
}

func (e *BelowZeroError) Error() string {
	return fmt.Sprintf("store: %+d days would take the partner balance from %d to %d days", e.Days, e.From, e.To)
}

// RecordPartnerEntry records a purchase or a correction of the partner's
// estimated balance with its audit row, in one transaction; days bought
// (or added by a correction) clear the "partner balance short" warning.
// Unless e.AllowBelowZero, the insert of an entry that takes days off is
// conditional on the estimate not going below zero, checked in the same
// statement.
func (s *Store) RecordPartnerEntry(ctx context.Context, actor Actor, e NewPartnerEntry) (PartnerEntry, error) {
	switch {
	case e.Kind != PartnerPurchase && e.Kind != PartnerCorrection:
		return PartnerEntry{}, fmt.Errorf("store: a partner entry of kind %q", e.Kind)
	case e.Days == 0, e.Kind == PartnerPurchase && e.Days < 0:
		return PartnerEntry{}, fmt.Errorf("store: a %s of %d days", e.Kind, e.Days)
	}
	out := PartnerEntry{Delta: e.Days, Kind: e.Kind, Comment: e.Note, Actor: actor.Email, CreatedAt: s.now()}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockPartnerEstimate(tx); err != nil {
			return err
		}
		var ids []int64
		err := tx.Raw(`INSERT INTO partner_ledger (delta, kind, comment, actor, created_at)
			SELECT ?, ?, ?, ?, ? WHERE ? OR ? > 0 OR `+partnerEstimateSQL+` + ? >= 0
			RETURNING id`, out.Delta, out.Kind, out.Comment, out.Actor, out.CreatedAt, e.AllowBelowZero, out.Delta, out.Delta).Scan(&ids).Error
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			from, err := partnerEstimate(tx)
			if err != nil {
				return err
			}
			return &BelowZeroError{Days: e.Days, From: from, To: from + e.Days}
		}
		out.ID = ids[0]
		if err := clearPartnerShort(tx, out.Delta); err != nil {
			return err
		}
		return s.audit(tx, actor, "partner.days", "partner balance",
			fmt.Sprintf("entry #%d: %+d days (%s): %s", out.ID, out.Delta, out.Kind, out.Comment))
	})
	if err != nil {
		return PartnerEntry{}, err
	}
	return out, nil
}

// clearPartnerShort clears the "partner balance short" warning when days
// are added: WHAPI may accept extends again (the next refusal raises it
// again).
func clearPartnerShort(tx *gorm.DB, delta int64) error {
	if delta <= 0 {
		return nil
	}
	return tx.Model(&Settings{}).Where("id = 1").Update("partner_short_at", nil).Error
}

// RecordPartnerPurchase records days bought (positive) or a correction
// (negative), whatever it does to the estimate: a shortcut for tests and
// benchmarks. People record entries through provision.RecordPartnerDays,
// which asks before a large entry or one that goes below zero.
func (s *Store) RecordPartnerPurchase(ctx context.Context, actor Actor, days int64, note string) error {
	kind := PartnerPurchase
	if days < 0 {
		kind = PartnerCorrection
	}
	_, err := s.RecordPartnerEntry(ctx, actor, NewPartnerEntry{Kind: kind, Days: days, Note: note, AllowBelowZero: true})
	return err
}

// ReverseRefusal is why an entry cannot be reversed.
type ReverseRefusal int

// The reasons an entry cannot be reversed.
const (
	// ReversedAlready: the entry was reversed already; an entry is
	// reversed once.
	ReversedAlready ReverseRefusal = iota + 1
	// ReversalOfReversal: the entry is itself a reversal.
	ReversalOfReversal
	// NotRecordedByHand: whapidesk recorded the entry when it extended or
	// deleted a channel; it follows what WHAPI did.
	NotRecordedByHand
)

// ReverseError refuses to reverse an entry; nothing was recorded.
type ReverseError struct {
	Why   ReverseRefusal
	Entry PartnerEntry
	// ReversedBy is the entry that reversed it (ReversedAlready; 0 when
	// another request reversed it at the same moment).
	ReversedBy int64
}

// Error says why, in words a person can act on.
func (e *ReverseError) Error() string {
	switch e.Why {
	case ReversedAlready:
		by := ""
		if e.ReversedBy != 0 {
			by = fmt.Sprintf(" by entry #%d", e.ReversedBy)
		}
		return fmt.Sprintf("entry #%d was reversed already%s: an entry is reversed only once, so its days are never taken back twice", e.Entry.ID, by)
	case ReversalOfReversal:
		of := ""
		if e.Entry.ReversesID != nil {
			of = fmt.Sprintf(" of entry #%d", *e.Entry.ReversesID)
		}
		return fmt.Sprintf("entry #%d is itself the reversal%s and is not reversed in turn: record the days again as a new entry, so the ledger says what happened", e.Entry.ID, of)
	default:
		what := "extended a channel"
		if e.Entry.Kind == PartnerReturn {
			what = "deleted a channel"
		}
		return fmt.Sprintf("entry #%d was recorded by whapidesk when it %s: it follows what WHAPI did and is not reversed by hand; record a correction instead", e.Entry.ID, what)
	}
}

// ReversePartnerEntry undoes a purchase or a correction: a new entry of
// kind reversal with the opposite days, pointing at it, and its audit row,
// in one transaction. The insert is conditional, in SQL: the entry is a
// purchase or a correction, nothing reversed it yet, and (unless
// allowBelowZero) the estimate stays at zero or above; the unique index on
// reverses_id makes two reversals of one entry at the same moment record
// one. Refusals: ErrNotFound, *ReverseError, *BelowZeroError.
func (s *Store) ReversePartnerEntry(ctx context.Context, actor Actor, entryID int64, note string, allowBelowZero bool) (rev, of PartnerEntry, err error) {
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockPartnerEstimate(tx); err != nil {
			return err
		}
		var ids []int64
		err := tx.Raw(`INSERT INTO partner_ledger (delta, kind, reverses_id, comment, actor, created_at)
			SELECT -e.delta, 'reversal', e.id, ?, ?, ?
			FROM partner_ledger e
			WHERE e.id = ? AND e.kind IN ('purchase', 'correction')
			  AND NOT EXISTS (SELECT 1 FROM partner_ledger r WHERE r.reverses_id = e.id)
			  AND (? OR e.delta < 0 OR `+partnerEstimateSQL+` - e.delta >= 0)
			RETURNING id`, note, actor.Email, now, entryID, allowBelowZero).Scan(&ids).Error
		if isDuplicate(err) {
			return &ReverseError{Why: ReversedAlready, Entry: PartnerEntry{ID: entryID}}
		}
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return whyNotReversed(tx, entryID)
		}
		if err := tx.First(&of, entryID).Error; err != nil {
			return err
		}
		rev = PartnerEntry{ID: ids[0], Delta: -of.Delta, Kind: PartnerReversal, ReversesID: &of.ID, Comment: note, Actor: actor.Email, CreatedAt: now}
		if err := clearPartnerShort(tx, rev.Delta); err != nil {
			return err
		}
		return s.audit(tx, actor, "partner.reverse", "partner balance",
			fmt.Sprintf("entry #%d reverses entry #%d (%s of %+d days): %+d days: %s", rev.ID, of.ID, of.Kind, of.Delta, rev.Delta, note))
	})
	if err != nil {
		return PartnerEntry{}, PartnerEntry{}, err
	}
	return rev, of, nil
}

// whyNotReversed says why the conditional insert of a reversal of e
// inserted nothing.
func whyNotReversed(tx *gorm.DB, id int64) error {
	e, err := partnerEntryByID(tx, id)
	if err != nil {
		return err
	}
	if why := e.ReverseRefusal(); why != nil {
		return why
	}
	from, err := partnerEstimate(tx)
	if err != nil {
		return err
	}
	return &BelowZeroError{Days: -e.Delta, From: from, To: from - e.Delta}
}

// RecordedPartnerEntry is an entry an admin recorded, with the entry that
// reversed it, if one did.
type RecordedPartnerEntry struct {
	PartnerEntry
	ReversedBy *int64 `gorm:"column:reversed_by"`
}

// ReverseRefusal says why e cannot be reversed, nil when it can: the
// reasons ReversePartnerEntry refuses with, read from the entry as loaded.
func (e RecordedPartnerEntry) ReverseRefusal() *ReverseError {
	switch {
	case e.Kind == PartnerReversal:
		return &ReverseError{Why: ReversalOfReversal, Entry: e.PartnerEntry}
	case !e.Kind.Recorded():
		return &ReverseError{Why: NotRecordedByHand, Entry: e.PartnerEntry}
	case e.ReversedBy != nil:
		return &ReverseError{Why: ReversedAlready, Entry: e.PartnerEntry, ReversedBy: *e.ReversedBy}
	}
	return nil
}

// Reversible reports whether e can be reversed: a purchase or a correction
// that nothing reversed yet.
func (e RecordedPartnerEntry) Reversible() bool { return e.ReverseRefusal() == nil }

// recordedKinds selects the entries an admin recorded (they use the
// partial index partner_ledger_recorded).
const recordedKinds = "e.kind IN ('purchase', 'correction', 'reversal')"

// ListPartnerEntries returns the purchases, corrections and reversals,
// newest first, with how many there are.
func (s *Store) ListPartnerEntries(ctx context.Context, limit, offset int) ([]RecordedPartnerEntry, int64, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Raw("SELECT COUNT(*) FROM partner_ledger e WHERE " + recordedKinds).Scan(&n).Error; err != nil {
		return nil, 0, err
	}
	var rows []RecordedPartnerEntry
	err := db.Raw(`SELECT e.*, r.id AS reversed_by FROM partner_ledger e
		LEFT JOIN partner_ledger r ON r.reverses_id = e.id
		WHERE `+recordedKinds+` ORDER BY e.id DESC LIMIT ? OFFSET ?`, limit, offset).Scan(&rows).Error
	return rows, n, err
}

// PartnerEntryByID returns one entry of the partner ledger (of any kind),
// with the entry that reversed it, if one did.
func (s *Store) PartnerEntryByID(ctx context.Context, id int64) (RecordedPartnerEntry, error) {
	return partnerEntryByID(s.db.WithContext(ctx), id)
}

func partnerEntryByID(db *gorm.DB, id int64) (RecordedPartnerEntry, error) {
	var rows []RecordedPartnerEntry
	err := db.Raw(`SELECT e.*, r.id AS reversed_by FROM partner_ledger e
		LEFT JOIN partner_ledger r ON r.reverses_id = e.id WHERE e.id = ?`, id).Scan(&rows).Error
	if err != nil {
		return RecordedPartnerEntry{}, err
	}
	if len(rows) == 0 {
		return RecordedPartnerEntry{}, ErrNotFound
	}
	return rows[0], nil
}

// PartnerBalance is the estimate of the partner's WHAPI day balance.
type PartnerBalance struct {
	// Corrections are the corrections and the reversals together.
	Bought, Extended, Returned, Corrections int64
}

// Estimate is bought − extended + returned (+ corrections and reversals).
func (p PartnerBalance) Estimate() int64 {
	return p.Bought - p.Extended + p.Returned + p.Corrections
}

// PartnerBalance sums the partner ledger.
func (s *Store) PartnerBalance(ctx context.Context) (PartnerBalance, error) {
	var rows []struct {
		Kind PartnerKind
		Sum  int64
	}
	err := s.db.WithContext(ctx).Model(&PartnerEntry{}).Select("kind, COALESCE(SUM(delta), 0) AS sum").Group("kind").Scan(&rows).Error
	var b PartnerBalance
	for _, r := range rows {
		switch r.Kind {
		case PartnerPurchase:
			b.Bought = r.Sum
		case PartnerExtend:
			b.Extended = -r.Sum
		case PartnerReturn:
			b.Returned = r.Sum
		default:
			b.Corrections += r.Sum
		}
	}
	return b, err
}

package provision

import (
	"context"
	"errors"
	"strings"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// MaxPartnerDays bounds one entry of partner days (bought or corrected).
const MaxPartnerDays = 1_000_000

// PartnerConfirmAbove is the size of entry past which recording it asks
// for confirmation: an entry of more than 1,000 days either way (a typo
// of a zero, a sign) is asked about before it is recorded. A constant,
// documented in README.md, rather than a setting: no admin has asked to
// tune it, and the question costs one click.
const PartnerConfirmAbove = 1_000

// PartnerEntryInput is an entry of the partner's estimated WHAPI balance
// an admin records: days bought from WHAPI (a purchase, positive) or a
// correction of the estimate (either sign), with a note saying why.
type PartnerEntryInput struct {
	Kind models.PartnerKind // purchase or correction
	Days int64
	Note string
	// Confirmed records the entry even when it asks for confirmation
	// (*NeedsConfirmationError): the admin saw the numbers and agreed.
	Confirmed bool
}

// ValidatePartnerEntry is ValidatePartnerEntry with its FieldErrors
// in the language ctx carries.
func ValidatePartnerEntry(ctx context.Context, in PartnerEntryInput) (string, FieldErrors) {
	fe := FieldErrors{}
	switch in.Kind {
	case models.PartnerPurchase, models.PartnerCorrection:
	default:
		fe["kind"] = i18n.T(ctx, "prov.partner.kind")
	}
	switch {
	case in.Days < -MaxPartnerDays || in.Days > MaxPartnerDays:
		fe["days"] = i18n.T(ctx, "prov.partner.days_range", "Min", number(ctx, -MaxPartnerDays), "Max", number(ctx, MaxPartnerDays))
	case in.Kind == models.PartnerPurchase && in.Days <= 0:
		fe["days"] = i18n.T(ctx, "prov.partner.purchase_positive")
	case in.Days == 0:
		fe["days"] = i18n.T(ctx, "prov.partner.not_zero")
	}
	note, err := cleanNote(ctx, in.Note)
	if err != "" {
		fe["note"] = err
	}
	if len(fe) > 0 {
		return "", fe
	}
	return note, nil
}

// cleanNote checks the required note of an entry or a reversal.
func cleanNote(ctx context.Context, in string) (string, string) {
	c, err := cleanText(in, "note", MaxComment, true)
	switch {
	case err != nil && strings.TrimSpace(in) == "":
		return "", i18n.T(ctx, "prov.partner.note_required")
	case err != nil:
		return "", fieldMsg(ctx, err)
	}
	return c, ""
}

// NeedsConfirmationError answers an entry (or a reversal) that asks for
// confirmation: it takes days off and would leave the estimated partner
// balance below zero, or it is larger than PartnerConfirmAbove. Nothing
// was recorded; the same entry with Confirmed is. From is the estimate
// when it was asked, To what the entry makes it.
type NeedsConfirmationError struct {
	Days, From, To int64
	BelowZero      bool // Days < 0 and To < 0
	Large          bool // |Days| > PartnerConfirmAbove
}

func (e *NeedsConfirmationError) Error() string {
	return "provision: the partner entry needs confirmation"
}

// RecordPartnerDays records days bought from WHAPI, or a correction of the
// estimate of the partner's WHAPI balance (WHAPI has no endpoint for it),
// with its audit row; days added clear the "partner balance short"
// warning. An entry larger than PartnerConfirmAbove, or one that takes the
// estimate below zero, is not recorded unless in.Confirmed: it answers
// *NeedsConfirmationError with the numbers. The below-zero check is made
// in SQL, in the transaction that records the entry. It returns the entry
// and the new balance.
func (s *Service) RecordPartnerDays(ctx context.Context, actor models.Actor, in PartnerEntryInput) (models.PartnerEntry, models.PartnerBalance, error) {
	note, fe := ValidatePartnerEntry(ctx, in)
	if fe != nil {
		return models.PartnerEntry{}, models.PartnerBalance{}, fe
	}
	if !in.Confirmed && (in.Days > PartnerConfirmAbove || in.Days < -PartnerConfirmAbove) {
		pb, err := s.store.PartnerBalance(ctx)
		if err != nil {
			return models.PartnerEntry{}, models.PartnerBalance{}, err
		}
		from := pb.Estimate()
		return models.PartnerEntry{}, models.PartnerBalance{}, &NeedsConfirmationError{Days: in.Days, From: from, To: from + in.Days,
			BelowZero: in.Days < 0 && from+in.Days < 0, Large: true}
	}
	e, err := s.store.RecordPartnerEntry(ctx, actor, models.NewPartnerEntry{Kind: in.Kind, Days: in.Days, Note: note, AllowBelowZero: in.Confirmed})
	if err != nil {
		return models.PartnerEntry{}, models.PartnerBalance{}, needsConfirmation(err)
	}
	pb, err := s.store.PartnerBalance(ctx)
	return e, pb, err
}

// ReversePartnerEntry undoes an earlier purchase or correction with an
// entry of the opposite days (kind reversal) and its audit row. An entry
// is reversed once; a reversal, or an entry whapidesk recorded for an
// extend or a delete, is not reversed (*models.ReverseError says why). A
// reversal that takes the estimate below zero asks for confirmation like
// any entry (*NeedsConfirmationError) unless confirmed; its size alone
// does not, since it only takes back what was recorded. It returns the
// reversal, the entry it reverses and the new balance.
func (s *Service) ReversePartnerEntry(ctx context.Context, actor models.Actor, entryID int64, note string, confirmed bool) (rev, of models.PartnerEntry, pb models.PartnerBalance, err error) {
	c, msg := cleanNote(ctx, note)
	if msg != "" {
		return rev, of, pb, FieldErrors{"note": msg}
	}
	rev, of, err = s.store.ReversePartnerEntry(ctx, actor, entryID, c, confirmed)
	if err != nil {
		return rev, of, pb, needsConfirmation(err)
	}
	pb, err = s.store.PartnerBalance(ctx)
	return rev, of, pb, err
}

// needsConfirmation turns the store's below-zero refusal into the
// question to the admin.
func needsConfirmation(err error) error {
	var bz *models.BelowZeroError
	if errors.As(err, &bz) {
		return &NeedsConfirmationError{Days: bz.Days, From: bz.From, To: bz.To, BelowZero: true,
			Large: bz.Days > PartnerConfirmAbove || bz.Days < -PartnerConfirmAbove}
	}
	return err
}

package provision

import (
	"context"
	"errors"
	"strings"
	"testing"

	"whapidesk/models"
)

// partnerState is what an entry that was not recorded must leave as it
// was: the estimate, the ledger's entries and the audit log.
type partnerState struct {
	estimate, entries, audit int64
}

func (e *env) partnerState() partnerState {
	e.t.Helper()
	pb, err := e.store.PartnerBalance(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	_, n, err := e.store.ListPartnerEntries(e.ctx, 1, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	audit, err := e.store.CountAudit(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return partnerState{estimate: pb.Estimate(), entries: n, audit: audit}
}

func TestValidatePartnerEntry(t *testing.T) {
	long := strings.Repeat("é", MaxComment)
	for _, tt := range []struct {
		name string
		in   PartnerEntryInput
		want map[string]string // field → start of its error; nil: valid
	}{
		{"a purchase", PartnerEntryInput{Kind: models.PartnerPurchase, Days: 1, Note: " invoice 7 "}, nil},
		{"the largest purchase", PartnerEntryInput{Kind: models.PartnerPurchase, Days: MaxPartnerDays, Note: "x"}, nil},
		{"a negative correction", PartnerEntryInput{Kind: models.PartnerCorrection, Days: -MaxPartnerDays, Note: "x"}, nil},
		{"a positive correction", PartnerEntryInput{Kind: models.PartnerCorrection, Days: 3, Note: long}, nil},
		{"a negative purchase", PartnerEntryInput{Kind: models.PartnerPurchase, Days: -3, Note: "x"}, map[string]string{"days": "a purchase is a number of days above 0"}},
		{"a purchase of 0", PartnerEntryInput{Kind: models.PartnerPurchase, Days: 0, Note: "x"}, map[string]string{"days": "a purchase is a number of days above 0"}},
		{"a correction of 0", PartnerEntryInput{Kind: models.PartnerCorrection, Days: 0, Note: "x"}, map[string]string{"days": "enter a number other than 0"}},
		{"too many days", PartnerEntryInput{Kind: models.PartnerCorrection, Days: MaxPartnerDays + 1, Note: "x"}, map[string]string{"days": "enter a whole number of days, from -1,000,000"}},
		{"a reversal", PartnerEntryInput{Kind: models.PartnerReversal, Days: 3, Note: "x"}, map[string]string{"kind": "choose Purchase or Correction"}},
		{"no kind", PartnerEntryInput{Days: 3, Note: "x"}, map[string]string{"kind": "choose Purchase or Correction"}},
		{"no note", PartnerEntryInput{Kind: models.PartnerPurchase, Days: 3, Note: " \t "}, map[string]string{"note": "enter a note"}},
		{"two lines", PartnerEntryInput{Kind: models.PartnerPurchase, Days: 3, Note: "a\nb"}, map[string]string{"note": "the note must be on one line"}},
		{"a long note", PartnerEntryInput{Kind: models.PartnerPurchase, Days: 3, Note: long + "x"}, map[string]string{"note": "the note has at most 200 characters"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			note, fe := ValidatePartnerEntry(context.Background(), tt.in)
			if tt.want == nil {
				if fe != nil || note != strings.TrimSpace(tt.in.Note) {
					t.Fatalf("refused: %v (note %q)", fe, note)
				}
				return
			}
			if len(fe) != len(tt.want) {
				t.Fatalf("errors %v, want %v", fe, tt.want)
			}
			for k, w := range tt.want {
				if !strings.HasPrefix(fe[k], w) {
					t.Errorf("%s: %q, want %q…", k, fe[k], w)
				}
			}
		})
	}
}

func TestRecordPartnerDaysAsksBeforeBigOrBelowZero(t *testing.T) {
	e := newEnv(t)
	rec := func(in PartnerEntryInput) (models.PartnerEntry, models.PartnerBalance, error) {
		return e.svc.RecordPartnerDays(e.ctx, admin, in)
	}
	invoice1, pb, err := rec(PartnerEntryInput{Kind: models.PartnerPurchase, Days: 930, Note: "invoice 1"})
	if err != nil || pb.Estimate() != 930 {
		t.Fatalf("%v, estimate %d", err, pb.Estimate())
	}
	asks := func(in PartnerEntryInput, want NeedsConfirmationError) {
		t.Helper()
		before := e.partnerState()
		_, _, err := rec(in)
		var nc *NeedsConfirmationError
		if !errors.As(err, &nc) || *nc != want {
			t.Fatalf("%+v: want %+v, got %v", in, want, err)
		}
		if after := e.partnerState(); after != before {
			t.Fatalf("%+v changed %+v → %+v before it was confirmed", in, before, after)
		}
	}
	// Below zero.
	asks(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -931, Note: "typo"}, NeedsConfirmationError{Days: -931, From: 930, To: -1, BelowZero: true})
	// Larger than the threshold, either way.
	asks(PartnerEntryInput{Kind: models.PartnerPurchase, Days: PartnerConfirmAbove + 1, Note: "big"},
		NeedsConfirmationError{Days: 1001, From: 930, To: 1931, Large: true})
	asks(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -5000, Note: "typo"},
		NeedsConfirmationError{Days: -5000, From: 930, To: -4070, BelowZero: true, Large: true})
	// Bad input is refused before any question.
	if _, _, err := rec(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -5000, Note: ""}); !errors.As(err, new(FieldErrors)) {
		t.Fatalf("no note: %v", err)
	}

	// The threshold itself is no question, and neither is down to zero.
	if _, pb, err := rec(PartnerEntryInput{Kind: models.PartnerPurchase, Days: PartnerConfirmAbove, Note: "invoice 2"}); err != nil || pb.Estimate() != 1930 {
		t.Fatalf("%v, estimate %d", err, pb.Estimate())
	}
	if _, pb, err := rec(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -1000, Note: "invoice 2 was a duplicate"}); err != nil || pb.Estimate() != 930 {
		t.Fatalf("%v, estimate %d", err, pb.Estimate())
	}
	// Confirmed, it is recorded.
	typo, pb, err := rec(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -5000, Note: "typo", Confirmed: true})
	if err != nil || pb.Estimate() != -4070 || typo.Kind != models.PartnerCorrection || typo.Delta != -5000 {
		t.Fatalf("%v, %+v, estimate %d", err, typo, pb.Estimate())
	}

	// Reversed, the estimate is back; the note is required.
	before := e.partnerState()
	if _, _, _, err := e.svc.ReversePartnerEntry(e.ctx, admin, typo.ID, "  ", false); !errors.As(err, new(FieldErrors)) {
		t.Fatalf("a reversal without a note: %v", err)
	}
	if after := e.partnerState(); after != before {
		t.Fatalf("a refused reversal changed %+v → %+v", before, after)
	}
	rev, of, pb, err := e.svc.ReversePartnerEntry(e.ctx, admin, typo.ID, " meant −500 ", false)
	if err != nil || pb.Estimate() != 930 || rev.Delta != 5000 || rev.Comment != "meant −500" || of.ID != typo.ID {
		t.Fatalf("%v, %+v of %+v, estimate %d", err, rev, of, pb.Estimate())
	}
	// A reversal's size alone asks nothing (it takes back what was
	// recorded), but going below zero does.
	big, _, err := rec(PartnerEntryInput{Kind: models.PartnerPurchase, Days: 5000, Note: "invoice 3", Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, pb, err := e.svc.ReversePartnerEntry(e.ctx, admin, big.ID, "wrong account", false); err != nil || pb.Estimate() != 930 {
		t.Fatalf("%v, estimate %d", err, pb.Estimate())
	}
	if _, _, err := rec(PartnerEntryInput{Kind: models.PartnerCorrection, Days: -900, Note: "used"}); err != nil {
		t.Fatal(err)
	}
	before = e.partnerState()
	_, _, _, err = e.svc.ReversePartnerEntry(e.ctx, admin, invoice1.ID, "invoice 1 refunded", false)
	var nc *NeedsConfirmationError
	if !errors.As(err, &nc) || nc.From != 30 || nc.To != -900 || nc.Days != -930 || !nc.BelowZero {
		t.Fatalf("a reversal below zero: %v", err)
	}
	if after := e.partnerState(); after != before {
		t.Fatalf("an unconfirmed reversal changed %+v → %+v", before, after)
	}
	if _, _, pb, err := e.svc.ReversePartnerEntry(e.ctx, admin, invoice1.ID, "invoice 1 refunded", true); err != nil || pb.Estimate() != -900 {
		t.Fatalf("%v, estimate %d", err, pb.Estimate())
	}
}

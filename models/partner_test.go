package models

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"
)

// partnerCounts is what a refused entry must leave as it was: the ledger's
// rows, the estimate (from the running totals) and the audit log.
type partnerCounts struct{ rows, estimate, audit int64 }

func readPartnerCounts(t *testing.T, s *Store) partnerCounts {
	t.Helper()
	ctx := context.Background()
	var c partnerCounts
	if err := s.db.Raw("SELECT COUNT(*) FROM partner_ledger").Scan(&c.rows).Error; err != nil {
		t.Fatal(err)
	}
	d, err := s.DashboardTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.estimate = d.Partner.Estimate()
	if c.audit, err = s.CountAudit(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantEstimate(t *testing.T, s *Store, want int64) {
	t.Helper()
	pb, err := s.PartnerBalance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pb.Estimate() != want {
		t.Fatalf("estimate %d, want %d (%+v)", pb.Estimate(), want, pb)
	}
	wantTotalsMatch(t, s)
}

func TestPartnerEntriesKindsAndBelowZero(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	admin := Actor{Email: "admin@example.com"}

	buy, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerPurchase, Days: 930, Note: "invoice 1"})
	if err != nil {
		t.Fatal(err)
	}
	if buy.ID == 0 || buy.Kind != PartnerPurchase || buy.Delta != 930 || buy.Actor != "admin@example.com" {
		t.Fatalf("entry %+v", buy)
	}
	wantEstimate(t, s, 930)

	// A correction that takes the estimate below zero is refused with the
	// numbers, and changes nothing.
	before := readPartnerCounts(t, s)
	_, err = s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerCorrection, Days: -5000, Note: "typo"})
	var bz *BelowZeroError
	if !errors.As(err, &bz) || bz.Days != -5000 || bz.From != 930 || bz.To != -4070 {
		t.Fatalf("want a BelowZeroError 930 → −4070, got %v", err)
	}
	if after := readPartnerCounts(t, s); after != before {
		t.Fatalf("a refused entry changed %+v → %+v", before, after)
	}
	// Down to zero exactly is no question.
	if _, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerCorrection, Days: -930, Note: "all used"}); err != nil {
		t.Fatal(err)
	}
	wantEstimate(t, s, 0)
	// Allowed, it is recorded.
	if _, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerCorrection, Days: -1, Note: "one more", AllowBelowZero: true}); err != nil {
		t.Fatal(err)
	}
	wantEstimate(t, s, -1)
	// A positive correction is a correction, not a purchase.
	fix, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerCorrection, Days: 11, Note: "counted again"})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := s.PartnerBalance(ctx)
	if fix.Kind != PartnerCorrection || pb.Bought != 930 || pb.Corrections != -920 || pb.Estimate() != 10 {
		t.Fatalf("after a positive correction: %+v, %+v", fix, pb)
	}

	for _, bad := range []NewPartnerEntry{
		{Kind: PartnerPurchase, Days: -5, Note: "x"},
		{Kind: PartnerCorrection, Days: 0, Note: "x"},
		{Kind: PartnerReversal, Days: 5, Note: "x"},
		{Kind: PartnerExtend, Days: -5, Note: "x"},
	} {
		before := readPartnerCounts(t, s)
		if _, err := s.RecordPartnerEntry(ctx, admin, bad); err == nil {
			t.Errorf("%+v recorded", bad)
		}
		if after := readPartnerCounts(t, s); after != before {
			t.Fatalf("%+v changed %+v → %+v", bad, before, after)
		}
	}

	evs, err := s.ListAudit(ctx, 1, 0)
	if err != nil || len(evs) != 1 || evs[0].Action != "partner.days" || evs[0].ActorEmail != "admin@example.com" ||
		!strings.Contains(evs[0].Detail, "+11 days (correction): counted again") {
		t.Fatalf("audit %v %+v", err, evs)
	}
}

// The schema holds the rules on its own, whatever code writes to it.
func TestPartnerLedgerConstraints(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	buy, err := s.RecordPartnerEntry(ctx, SystemActor, NewPartnerEntry{Kind: PartnerPurchase, Days: 100, Note: "invoice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReversePartnerEntry(ctx, SystemActor, buy.ID, "wrong invoice", false); err != nil {
		t.Fatal(err)
	}
	const ins = "INSERT INTO partner_ledger (delta, kind, reverses_id, comment, actor, created_at) VALUES (?, ?, ?, ?, 'test', CURRENT_TIMESTAMP)"
	for _, tt := range []struct {
		name     string
		delta    int64
		kind     string
		reverses any
		note     string
	}{
		{"a negative purchase", -1, "purchase", nil, "x"},
		{"a purchase without a note", 1, "purchase", nil, "  "},
		{"a correction without a note", -1, "correction", nil, ""},
		{"a reversal without a note", -100, "reversal", nil, ""},
		{"a reversal of nothing", 1, "reversal", nil, "x"},
		{"a correction that says it reverses", 1, "correction", buy.ID, "x"},
		{"a second reversal of one entry", -100, "reversal", buy.ID, "again"},
		{"a reversal of a missing entry", 1, "reversal", 999_999, "x"},
		{"an unknown kind", 1, "gift", nil, "x"},
		{"zero days", 0, "correction", nil, "x"},
	} {
		before := readPartnerCounts(t, s)
		if err := s.db.Exec(ins, tt.delta, tt.kind, tt.reverses, tt.note).Error; err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
		if after := readPartnerCounts(t, s); after != before {
			t.Fatalf("%s: changed %+v → %+v", tt.name, before, after)
		}
	}
	// whapidesk's own entries need no note.
	if err := s.db.Exec(ins, -3, "extend", nil, "").Error; err != nil {
		t.Fatalf("an extend without a comment: %v", err)
	}
	for _, sql := range []string{"UPDATE partner_ledger SET comment = 'edited'", "DELETE FROM partner_ledger WHERE kind = 'reversal'"} {
		if err := s.db.Exec(sql).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	wantTotalsMatch(t, s)
}

func TestReversePartnerEntry(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	admin := Actor{Email: "admin@example.com"}
	record := func(kind PartnerKind, days int64, note string) PartnerEntry {
		t.Helper()
		e, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: kind, Days: days, Note: note, AllowBelowZero: true})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	buy := record(PartnerPurchase, 930, "invoice 1")
	typo := record(PartnerCorrection, -5000, "typo")
	wantEstimate(t, s, -4070)

	// Reversing the mistaken correction brings the estimate back.
	rev, of, err := s.ReversePartnerEntry(ctx, admin, typo.ID, "meant −500", false)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Kind != PartnerReversal || rev.Delta != 5000 || rev.ReversesID == nil || *rev.ReversesID != typo.ID || of.ID != typo.ID || rev.Comment != "meant −500" {
		t.Fatalf("reversal %+v of %+v", rev, of)
	}
	wantEstimate(t, s, 930)
	pb, _ := s.PartnerBalance(ctx)
	if pb.Bought != 930 || pb.Corrections != 0 {
		t.Fatalf("balance %+v", pb)
	}
	evs, _ := s.ListAudit(ctx, 1, 0)
	if len(evs) != 1 || evs[0].Action != "partner.reverse" || evs[0].ActorEmail != "admin@example.com" ||
		!strings.Contains(evs[0].Detail, "reverses entry #") || !strings.Contains(evs[0].Detail, "meant −500") {
		t.Fatalf("audit %+v", evs)
	}
	got, err := s.PartnerEntryByID(ctx, typo.ID)
	if err != nil || got.ReversedBy == nil || *got.ReversedBy != rev.ID || got.Reversible() {
		t.Fatalf("the reversed entry reads %+v %v", got, err)
	}

	refused := func(id int64, allow bool) error {
		t.Helper()
		before := readPartnerCounts(t, s)
		_, _, err := s.ReversePartnerEntry(ctx, admin, id, "again", allow)
		if err == nil {
			t.Fatalf("entry %d reversed", id)
		}
		if after := readPartnerCounts(t, s); after != before {
			t.Fatalf("a refused reversal changed %+v → %+v", before, after)
		}
		return err
	}
	// Once only.
	var re *ReverseError
	if err := refused(typo.ID, true); !errors.As(err, &re) || re.Why != ReversedAlready || re.ReversedBy != rev.ID ||
		!strings.Contains(err.Error(), "reversed already by entry #") {
		t.Fatalf("a second reversal: %v", err)
	}
	// Not a reversal.
	if err := refused(rev.ID, true); !errors.As(err, &re) || re.Why != ReversalOfReversal ||
		!strings.Contains(err.Error(), "is itself the reversal of entry #") {
		t.Fatalf("the reversal of a reversal: %v", err)
	}
	// Not whapidesk's own entries.
	if err := s.db.Transaction(func(tx *gorm.DB) error {
		return s.addPartnerDays(tx, PartnerEntry{Delta: -30, Kind: PartnerExtend, Comment: "", Actor: "system"})
	}); err != nil {
		t.Fatal(err)
	}
	var extendID int64
	s.db.Raw("SELECT MAX(id) FROM partner_ledger WHERE kind = 'extend'").Scan(&extendID)
	if err := refused(extendID, true); !errors.As(err, &re) || re.Why != NotRecordedByHand || !strings.Contains(err.Error(), "extended a channel") {
		t.Fatalf("the reversal of an extend: %v", err)
	}
	if err := refused(999_999, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing entry: %v", err)
	}
	// Reversing the purchase takes 900 days to −30: asked, then done.
	var bz *BelowZeroError
	if err := refused(buy.ID, false); !errors.As(err, &bz) || bz.From != 900 || bz.To != -30 || bz.Days != -930 {
		t.Fatalf("a reversal below zero: %v", err)
	}
	if _, _, err := s.ReversePartnerEntry(ctx, admin, buy.ID, "refunded by WHAPI", true); err != nil {
		t.Fatal(err)
	}
	wantEstimate(t, s, -30)

	rows, n, err := s.ListPartnerEntries(ctx, 10, 0)
	if err != nil || n != 4 || len(rows) != 4 {
		t.Fatalf("list: %d of %d, %v (the extend is not listed)", len(rows), n, err)
	}
	if rows[0].Kind != PartnerReversal || rows[3].ID != buy.ID || rows[3].ReversedBy == nil || rows[2].ReversedBy == nil || rows[1].ReversesID == nil {
		t.Fatalf("list, newest first: %+v", rows)
	}
}

// Two admins reversing one entry at the same moment record one reversal;
// the others are told it was reversed already.
func TestConcurrentReversalsRecordOne(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	e, err := s.RecordPartnerEntry(ctx, SystemActor, NewPartnerEntry{Kind: PartnerCorrection, Days: 5000, Note: "typo"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, errs[i] = s.ReversePartnerEntry(ctx, Actor{Email: "admin@example.com"}, e.ID, "typo", true)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var re *ReverseError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &re) && re.Why == ReversedAlready:
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	var reversals int64
	s.db.Raw("SELECT COUNT(*) FROM partner_ledger WHERE reverses_id = ?", e.ID).Scan(&reversals)
	if ok != 1 || reversals != 1 {
		t.Fatalf("%d reversals succeeded, %d recorded; want 1 and 1", ok, reversals)
	}
	wantEstimate(t, s, 0)
	var audits int64
	s.db.Raw("SELECT COUNT(*) FROM audit_events WHERE action = 'partner.reverse'").Scan(&audits)
	if audits != 1 {
		t.Fatalf("%d audit rows, want 1", audits)
	}
}

// Migration 0012 on a ledger written before it: kinds by sign, a note for
// the entries that had none, whapidesk's own entries as they were, the
// totals recounted, and the new rules in force.
func TestPartnerKindsMigration(t *testing.T) {
	s, path := newTestStore(t)
	ctx := context.Background()
	// Put the table back as migrations 0002 and 0004 made it.
	table := []string{
		"DROP TABLE partner_ledger",
		`CREATE TABLE partner_ledger (
			id         INTEGER PRIMARY KEY,
			delta      INTEGER NOT NULL CHECK (delta <> 0),
			kind       TEXT    NOT NULL CHECK (kind IN ('purchase', 'extend', 'return', 'correction')),
			channel_id INTEGER REFERENCES channels(id),
			op_id      INTEGER,
			comment    TEXT    NOT NULL DEFAULT '',
			actor      TEXT    NOT NULL DEFAULT '',
			created_at DATETIME NOT NULL)`,
		`CREATE TRIGGER totals_partner_ledger_insert AFTER INSERT ON partner_ledger
		BEGIN
			INSERT INTO totals (name, n) VALUES ('partner_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
		END`,
	}
	if s.Postgres() { // as 0002_….postgres.sql and 0004_….postgres.sql made it
		table = []string{
			"DROP TABLE partner_ledger",
			`CREATE TABLE partner_ledger (
				id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				delta      BIGINT NOT NULL CHECK (delta <> 0),
				kind       TEXT   NOT NULL CONSTRAINT partner_ledger_kind_check CHECK (kind IN ('purchase', 'extend', 'return', 'correction')),
				channel_id BIGINT REFERENCES channels(id),
				op_id      BIGINT,
				comment    TEXT   NOT NULL DEFAULT '',
				actor      TEXT   NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL)`,
			"CREATE TRIGGER partner_ledger_no_update BEFORE UPDATE ON partner_ledger FOR EACH ROW EXECUTE FUNCTION append_only()",
			"CREATE TRIGGER partner_ledger_no_delete BEFORE DELETE ON partner_ledger FOR EACH ROW EXECUTE FUNCTION append_only()",
			"CREATE TRIGGER totals_partner_ledger_insert AFTER INSERT ON partner_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger()",
		}
	}
	for _, sql := range append(table,
		"DELETE FROM totals WHERE name LIKE 'partner_ledger:%'",
		`INSERT INTO partner_ledger (delta, kind, comment, actor, created_at) VALUES
			(500, 'purchase', 'invoice 1', 'admin@example.com', '2026-01-01 00:00:00'),
			(40, 'purchase', '', 'admin@example.com', '2026-01-02 00:00:00'),
			(-30, 'extend', '', 'system', '2026-01-03 00:00:00'),
			(10, 'return', 'channel deleted', 'system', '2026-01-04 00:00:00'),
			(-15, 'correction', '   ', 'admin@example.com', '2026-01-05 00:00:00')`,
		"DELETE FROM schema_migrations WHERE version LIKE '0012%'",
	) {
		if err := s.db.Exec(sql).Error; err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	s.Close()
	s2, err := Open(ctx, path, s.cipher, s.states)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var rows []PartnerEntry
	if err := s2.db.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	const none = "(no note — recorded before notes were required)"
	want := []struct {
		kind PartnerKind
		note string
	}{{PartnerPurchase, "invoice 1"}, {PartnerPurchase, none}, {PartnerExtend, ""}, {PartnerReturn, "channel deleted"}, {PartnerCorrection, none}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows after the migration, want %d", len(rows), len(want))
	}
	for i, w := range want {
		if rows[i].Kind != w.kind || rows[i].Comment != w.note || rows[i].ReversesID != nil || rows[i].Actor == "" || rows[i].CreatedAt.IsZero() {
			t.Errorf("row %d: %+v, want %s %q", i+1, rows[i], w.kind, w.note)
		}
	}
	wantEstimate(t, s2, 505)
	// The rules of the new schema hold: a reversal, once, and the
	// append-only triggers are back.
	if _, _, err := s2.ReversePartnerEntry(ctx, SystemActor, rows[4].ID, "counted twice", false); err != nil {
		t.Fatal(err)
	}
	if err := s2.db.Exec("INSERT INTO partner_ledger (delta, kind, reverses_id, comment, actor, created_at) VALUES (-15, 'reversal', ?, 'again', 'x', CURRENT_TIMESTAMP)", rows[4].ID).Error; err == nil {
		t.Fatal("a second reversal of one entry was accepted")
	}
	if err := s2.db.Exec("DELETE FROM partner_ledger").Error; err == nil {
		t.Fatal("the ledger accepts deletes after the migration")
	}
	// reverses_id refers to partner_ledger (after SQLite's rename too): a
	// reversal of an entry that does not exist is refused.
	if err := s2.db.Exec("INSERT INTO partner_ledger (delta, kind, reverses_id, comment, actor, created_at) VALUES (-15, 'reversal', 999999, 'none', 'x', CURRENT_TIMESTAMP)").Error; err == nil {
		t.Fatal("reverses_id does not refer to partner_ledger: a reversal of no entry was accepted")
	}
	wantEstimate(t, s2, 520)
}

// An entry that adds days is never refused for the estimate, even one
// below zero already: it does not take the estimate below zero.
func TestPartnerEntryAddingDaysBelowZeroIsNoQuestion(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	typo, err := s.RecordPartnerEntry(ctx, SystemActor, NewPartnerEntry{Kind: PartnerCorrection, Days: -50, Note: "typo", AllowBelowZero: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPartnerEntry(ctx, SystemActor, NewPartnerEntry{Kind: PartnerPurchase, Days: 20, Note: "invoice"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReversePartnerEntry(ctx, SystemActor, typo.ID, "typo", false); err != nil {
		t.Fatal(err)
	}
	wantEstimate(t, s, 20)
}

// Corrections at the same moment are judged one after the other against
// the estimate (the settings row is locked first on PostgreSQL, as
// SQLite's single writer does by itself): of twelve −150 corrections on
// 1,000 days, exactly six are recorded and the estimate never goes below
// zero.
func TestConcurrentCorrectionsNeverTakeTheEstimateBelowZero(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	admin := Actor{Email: "admin@example.com"}
	if _, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerPurchase, Days: 1000, Note: "invoice"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded, refused := 0, 0
	for range 12 {
		wg.Go(func() {
			_, err := s.RecordPartnerEntry(ctx, admin, NewPartnerEntry{Kind: PartnerCorrection, Days: -150, Note: "at once"})
			var bz *BelowZeroError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				recorded++
			case errors.As(err, &bz):
				refused++
			default:
				t.Errorf("correction: %v", err)
			}
		})
	}
	wg.Wait()
	if recorded != 6 || refused != 6 {
		t.Fatalf("%d corrections recorded and %d refused, want 6 and 6", recorded, refused)
	}
	wantEstimate(t, s, 100)
}

-- PostgreSQL's 0012_partner_entry_kinds.sql: the same columns, constraints
-- and rules for the rows recorded before (see the SQLite file), made with
-- ALTER TABLE in place of SQLite's rebuild of the table.
ALTER TABLE partner_ledger DROP CONSTRAINT partner_ledger_kind_check;
ALTER TABLE partner_ledger ADD COLUMN reverses_id BIGINT REFERENCES partner_ledger(id);

-- The append-only rule is lifted for this one rewrite of the old rows.
ALTER TABLE partner_ledger DISABLE TRIGGER partner_ledger_no_update;
UPDATE partner_ledger
SET kind = CASE WHEN kind IN ('purchase', 'correction') THEN (CASE WHEN delta > 0 THEN 'purchase' ELSE 'correction' END) ELSE kind END,
    comment = CASE WHEN kind IN ('purchase', 'correction') AND TRIM(comment) = '' THEN '(no note — recorded before notes were required)' ELSE comment END;
ALTER TABLE partner_ledger ENABLE TRIGGER partner_ledger_no_update;

ALTER TABLE partner_ledger ADD CONSTRAINT partner_ledger_kind_check
    CHECK (kind IN ('purchase', 'correction', 'reversal', 'extend', 'return'));
ALTER TABLE partner_ledger ADD CHECK (kind <> 'purchase' OR delta > 0);
ALTER TABLE partner_ledger ADD CHECK ((kind = 'reversal' AND reverses_id IS NOT NULL) OR (kind <> 'reversal' AND reverses_id IS NULL));
ALTER TABLE partner_ledger ADD CHECK (kind IN ('extend', 'return') OR TRIM(comment) <> '');

CREATE UNIQUE INDEX partner_ledger_reverses ON partner_ledger(reverses_id);
CREATE INDEX partner_ledger_recorded ON partner_ledger(id) WHERE kind IN ('purchase', 'correction', 'reversal');

DELETE FROM totals WHERE name LIKE 'partner_ledger:%';
INSERT INTO totals (name, n) SELECT 'partner_ledger:' || kind, SUM(delta) FROM partner_ledger GROUP BY kind;

-- Partner balance entries with care (issue 14). The entries an admin
-- records get a kind of their own and a required note:
--   purchase    days bought from WHAPI: always positive;
--   correction  the estimate put right: either sign;
--   reversal    an earlier purchase or correction undone: the opposite
--               days, pointing at it by reverses_id.
-- extend and return stay what they were: the days whapidesk itself moved
-- when it extended or deleted a channel (no note required of them).
--
-- The ledger stays append-only: a reversal is a new row, never an edit or a
-- delete; reverses_id is unique, so an entry is reversed at most once, even
-- by two admins at the same moment.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- (a new table, the rows copied, the old one dropped, the new one renamed)
-- and its triggers made again after the copy; nothing refers to
-- partner_ledger, so dropping it breaks no foreign key. A PostgreSQL schema
-- states the same columns and constraints with ALTER TABLE.
--
-- The rows recorded before this migration keep their days, actor and time:
--   * kind: before, a recorded entry was a purchase when positive and a
--     correction when negative; that rule is applied again, so a positive
--     entry stays a purchase (nothing tells a mistaken positive entry from
--     days bought) and a negative one a correction;
--   * note: an entry recorded with an empty comment gets
--     "(no note — recorded before notes were required)".
CREATE TABLE partner_ledger_new (
    id          INTEGER PRIMARY KEY,
    delta       INTEGER NOT NULL CHECK (delta <> 0),
    kind        TEXT    NOT NULL CHECK (kind IN ('purchase', 'correction', 'reversal', 'extend', 'return')),
    channel_id  INTEGER REFERENCES channels(id),
    op_id       INTEGER,
    reverses_id INTEGER REFERENCES partner_ledger_new(id),
    comment     TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    CHECK (kind <> 'purchase' OR delta > 0),
    CHECK ((kind = 'reversal' AND reverses_id IS NOT NULL) OR (kind <> 'reversal' AND reverses_id IS NULL)),
    CHECK (kind IN ('extend', 'return') OR TRIM(comment) <> '')
);

INSERT INTO partner_ledger_new (id, delta, kind, channel_id, op_id, reverses_id, comment, actor, created_at)
SELECT id, delta,
       CASE WHEN kind IN ('purchase', 'correction') THEN (CASE WHEN delta > 0 THEN 'purchase' ELSE 'correction' END) ELSE kind END,
       channel_id, op_id, NULL,
       CASE WHEN kind IN ('purchase', 'correction') AND TRIM(comment) = '' THEN '(no note — recorded before notes were required)' ELSE comment END,
       actor, created_at
FROM partner_ledger;

DROP TABLE partner_ledger;
ALTER TABLE partner_ledger_new RENAME TO partner_ledger;

CREATE UNIQUE INDEX partner_ledger_reverses ON partner_ledger(reverses_id);
-- The dashboard's list of recorded entries, newest first.
CREATE INDEX partner_ledger_recorded ON partner_ledger(id) WHERE kind IN ('purchase', 'correction', 'reversal');

-- The running totals by kind (migration 0004), recounted: a row whose kind
-- the rule above moved counts under its new kind.
DELETE FROM totals WHERE name LIKE 'partner_ledger:%';
INSERT INTO totals (name, n) SELECT 'partner_ledger:' || kind, SUM(delta) FROM partner_ledger GROUP BY kind;

-- The triggers of migrations 0002 and 0004, as they were.
CREATE TRIGGER partner_ledger_no_update BEFORE UPDATE ON partner_ledger
BEGIN SELECT RAISE(ABORT, 'partner_ledger is append-only'); END;
CREATE TRIGGER partner_ledger_no_delete BEFORE DELETE ON partner_ledger
BEGIN SELECT RAISE(ABORT, 'partner_ledger is append-only'); END;

CREATE TRIGGER totals_partner_ledger_insert AFTER INSERT ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_partner_ledger_update AFTER UPDATE OF kind, delta ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_partner_ledger_delete AFTER DELETE ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

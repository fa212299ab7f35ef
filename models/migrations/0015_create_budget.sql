-- WHAPI's create budget and pairing codes, counted in the database (issue
-- 14, points 4 and 5), so that every process on this database shares one
-- count and no request pattern grows the database.
--
-- create_attempts: one row per PUT /channels whapidesk sends, claimed
-- before the call (models/budget.go, ClaimCreate): the claim is one
-- conditional INSERT … SELECT that passes only while the partner-wide
-- count in the window is below WHAPI's limit (20 per 30 minutes), the
-- customer's count below their share (their plan's channel limit +
-- settings.create_share_extra) and WHAPI has not said it is spent
-- (create_budget.blocked_until). A refused claim writes no row here, no
-- channel and no operation. Rows older than the window are pruned by the
-- claims themselves.
CREATE TABLE create_attempts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- On the service's clock.
    created_at DATETIME NOT NULL,
    -- pending: claimed, the answer not recorded yet (a crash in between
    -- leaves it pending: it counts, as the channel may have been made);
    -- created, failed: WHAPI's answer; refused: WHAPI's own 429; unknown:
    -- no answer.
    outcome    TEXT    NOT NULL DEFAULT 'pending'
               CHECK (outcome IN ('pending', 'created', 'failed', 'refused', 'unknown'))
);
CREATE INDEX create_attempts_created ON create_attempts(created_at);
CREATE INDEX create_attempts_user_created ON create_attempts(user_id, created_at);

-- create_budget: one row. Claims lock it first (UPDATE … SET id = id), so
-- on a database whose transactions do not serialise writers (PostgreSQL)
-- concurrent claims still count one after another; SQLite's IMMEDIATE
-- transactions serialise them anyway. blocked_until is set when WHAPI
-- itself answers a create with 429 (its budget spent by something else):
-- no claim passes before then.
CREATE TABLE create_budget (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    blocked_until DATETIME
);
INSERT INTO create_budget (id) VALUES (1);

-- pairing_codes: one row per pairing code asked of WHAPI, claimed before
-- the call (ClaimPairingCode): at most 5 per channel and 15 per customer
-- in any 10 minutes. Pruned by the claims, as above.
CREATE TABLE pairing_codes (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL
);
CREATE INDEX pairing_codes_created ON pairing_codes(created_at);
CREATE INDEX pairing_codes_channel_created ON pairing_codes(channel_id, created_at);
CREATE INDEX pairing_codes_user_created ON pairing_codes(user_id, created_at);

-- Repeated identical refusals are counted on one audit event (per customer
-- or channel, per window) rather than written one by one.
ALTER TABLE audit_events ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1);

-- Each customer's share of the create budget is their plan's channel limit
-- plus this (an admin setting on the WHAPI Settings page).
ALTER TABLE settings ADD COLUMN create_share_extra INTEGER NOT NULL DEFAULT 2
    CHECK (create_share_extra >= 0 AND create_share_extra <= 1000);

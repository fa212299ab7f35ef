-- Plans, subscriptions, channels, the day ledger, the partner's day ledger
-- and the journal of WHAPI operations.

CREATE TABLE plans (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    max_channels    INTEGER NOT NULL CHECK (max_channels BETWEEN 1 AND 1000),
    days_per_period INTEGER NOT NULL CHECK (days_per_period BETWEEN 1 AND 3650),
    period_days     INTEGER NOT NULL CHECK (period_days BETWEEN 1 AND 3650),
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL
);

CREATE TABLE subscriptions (
    id                   INTEGER PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users(id),
    plan_id              INTEGER NOT NULL REFERENCES plans(id),
    status               TEXT    NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
    current_period_start DATETIME NOT NULL,
    current_period_end   DATETIME NOT NULL,
    created_at           DATETIME NOT NULL,
    updated_at           DATETIME NOT NULL
);
-- At most one active subscription per customer.
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions(user_id) WHERE status = 'active';
CREATE INDEX subscriptions_plan_id ON subscriptions(plan_id);

CREATE TABLE channels (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    name           TEXT    NOT NULL,
    phone          TEXT    NOT NULL DEFAULT '',
    whapi_id       TEXT UNIQUE,
    token_enc      TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'trial', 'active', 'expired', 'deleting', 'deleted', 'failed')),
    mode           TEXT    NOT NULL DEFAULT '',
    linked         INTEGER NOT NULL DEFAULT 0,
    linked_phone   TEXT    NOT NULL DEFAULT '',
    trial_ends_at  DATETIME,
    active_till    DATETIME,
    days_allocated INTEGER NOT NULL DEFAULT 0 CHECK (days_allocated >= 0),
    last_error     TEXT    NOT NULL DEFAULT '',
    last_synced_at DATETIME,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    deleted_at     DATETIME
);
CREATE INDEX channels_user_status ON channels(user_id, status);
CREATE INDEX channels_status_active_till ON channels(status, active_till);

CREATE TABLE day_ledger (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    channel_id INTEGER REFERENCES channels(id),
    op_id      INTEGER,
    delta      INTEGER NOT NULL CHECK (delta <> 0),
    kind       TEXT    NOT NULL CHECK (kind IN ('plan_credit', 'admin_credit', 'allocation', 'refund', 'correction')),
    comment    TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL
);
CREATE INDEX day_ledger_user ON day_ledger(user_id, id);
CREATE INDEX day_ledger_channel ON day_ledger(channel_id);
-- The ledger is append-only.
CREATE TRIGGER day_ledger_no_update BEFORE UPDATE ON day_ledger
BEGIN SELECT RAISE(ABORT, 'day_ledger is append-only'); END;
CREATE TRIGGER day_ledger_no_delete BEFORE DELETE ON day_ledger
BEGIN SELECT RAISE(ABORT, 'day_ledger is append-only'); END;

-- The partner's WHAPI balance as whapidesk estimates it: days bought (+),
-- days extended to channels (-), days returned by deletes (+).
CREATE TABLE partner_ledger (
    id         INTEGER PRIMARY KEY,
    delta      INTEGER NOT NULL CHECK (delta <> 0),
    kind       TEXT    NOT NULL CHECK (kind IN ('purchase', 'extend', 'return', 'correction')),
    channel_id INTEGER REFERENCES channels(id),
    op_id      INTEGER,
    comment    TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL
);
CREATE TRIGGER partner_ledger_no_update BEFORE UPDATE ON partner_ledger
BEGIN SELECT RAISE(ABORT, 'partner_ledger is append-only'); END;
CREATE TRIGGER partner_ledger_no_delete BEFORE DELETE ON partner_ledger
BEGIN SELECT RAISE(ABORT, 'partner_ledger is append-only'); END;

-- Every WHAPI call that changes something is journalled: reserved (days
-- debited / row inserted, not yet sent), sent (the call may have reached
-- WHAPI), then settled exactly once: done or failed.
CREATE TABLE operations (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('create', 'extend', 'delete')),
    channel_id   INTEGER NOT NULL REFERENCES channels(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    days         INTEGER NOT NULL DEFAULT 0,
    comment      TEXT    NOT NULL DEFAULT '',
    actor        TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL CHECK (state IN ('reserved', 'sent', 'done', 'failed')),
    till_before  DATETIME,
    result       TEXT    NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL
);
CREATE INDEX operations_open ON operations(state) WHERE state IN ('reserved', 'sent');
CREATE INDEX operations_channel ON operations(channel_id);

ALTER TABLE settings ADD COLUMN topup_window_days INTEGER NOT NULL DEFAULT 3 CHECK (topup_window_days BETWEEN 0 AND 365);
ALTER TABLE settings ADD COLUMN partner_short_at DATETIME;
-- Names this installation in the marker of its WHAPI channel names, so two
-- installations sharing a partner account never take each other's channels.
ALTER TABLE settings ADD COLUMN install_id TEXT NOT NULL DEFAULT '';
UPDATE settings SET install_id = lower(hex(randomblob(4)));

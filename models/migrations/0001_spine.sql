-- The spine: accounts, sessions, API keys, the WHAPI settings row and the audit log.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL DEFAULT '',
    password_hash       TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'customer')),
    allocation_mode     TEXT    NOT NULL DEFAULT 'manual' CHECK (allocation_mode IN ('auto', 'manual')),
    day_balance         INTEGER NOT NULL DEFAULT 0 CHECK (day_balance >= 0),
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL,
    password_changed_at DATETIME NOT NULL,
    CHECK (email = lower(email))
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    data         BLOB     NOT NULL,
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL
);
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL DEFAULT '',
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at   DATETIME
);
CREATE INDEX api_keys_user_id ON api_keys(user_id);

CREATE TABLE settings (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    partner_token_enc     TEXT    NOT NULL DEFAULT '',
    token_hint            TEXT    NOT NULL DEFAULT '',
    token_changed_by      TEXT    NOT NULL DEFAULT '',
    token_changed_at      DATETIME,
    project_id            TEXT    NOT NULL DEFAULT 'HPN0H0hFDL1GFg154PI',
    verify_status         TEXT    NOT NULL DEFAULT 'unverified'
                          CHECK (verify_status IN ('unverified', 'verified', 'refused', 'unreachable')),
    verified_at           DATETIME,
    project_known         INTEGER,
    low_balance_threshold INTEGER NOT NULL DEFAULT 100 CHECK (low_balance_threshold >= 0),
    updated_at            DATETIME NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    created_at  DATETIME NOT NULL,
    actor_id    INTEGER,
    actor_email TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_created_at ON audit_events(created_at);

INSERT INTO settings (id, updated_at) VALUES (1, CURRENT_TIMESTAMP);

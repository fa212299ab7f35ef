-- PostgreSQL's 0010_channel_gate.sql: the same table (see the SQLite file
-- for what each column means).
CREATE TABLE channel_gate (
    channel_id         BIGINT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    hook_hash          TEXT UNIQUE,
    pending_hash       TEXT UNIQUE,
    hook_base          TEXT NOT NULL DEFAULT '',
    hook_registered_at TIMESTAMPTZ,
    hook_recheck       BOOLEAN NOT NULL DEFAULT FALSE,
    hook_seen_at       TIMESTAMPTZ,
    gate_status        TEXT NOT NULL DEFAULT '',
    gate_at_ms         BIGINT,
    gate_linked        BOOLEAN
);

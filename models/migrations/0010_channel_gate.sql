-- What whapidesk knows of each channel's gate (issue 13): the webhook it
-- registered there, so WHAPI tells it of a linked or unlinked phone, and
-- the last status it applied, so that a replayed or late event never
-- moves the channel back in time.
CREATE TABLE channel_gate (
    channel_id         INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    -- The webhook's address ends with a secret of 256 random bits; only
    -- its SHA-256 (hex) is kept. hook_hash is the registered one's,
    -- pending_hash that of one being registered: both are accepted, so
    -- no event is lost while the registration is on its way.
    hook_hash          TEXT UNIQUE,
    pending_hash       TEXT UNIQUE,
    -- The public address the webhook was registered under ('' none).
    hook_base          TEXT NOT NULL DEFAULT '',
    -- When WHAPI confirmed it; NULL: the next sync registers it.
    hook_registered_at DATETIME,
    -- Polling saw a change the webhook never told: the next sync looks
    -- at the registration again.
    hook_recheck       BOOLEAN NOT NULL DEFAULT 0,
    -- When the last event arrived.
    hook_seen_at       DATETIME,
    -- The last status applied (WHAPI's text, e.g. AUTH or QR), its time on
    -- the gate's clock (ms; NULL when unknown), and what it said of the
    -- link (NULL: nothing yet).
    gate_status        TEXT NOT NULL DEFAULT '',
    gate_at_ms         INTEGER,
    gate_linked        BOOLEAN
);

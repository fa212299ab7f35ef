-- A channel's status history (issue 16, point 1): one row per observed
-- change of a channel's state, written in the transaction that changed it
-- (models/channel_events.go, noteChannel), so the history never disagrees
-- with the channel's row.
--
-- at: on the service's clock. source: what told whapidesk — a WHAPI
-- webhook, a poll of the gate, a sync with WHAPI's channel list, an admin's
-- or the customer's action, or a background job. A row holds the state
-- before and after: status (our lifecycle's), linked (a phone is linked)
-- and gate ('' or WHAPI's text of the line's status, e.g. INIT, QR, AUTH).
-- Kept WHAPIDESK_EVENTS_KEEP_DAYS (90 by default); the prune keeps each
-- channel's last row before the cut, the state the uptime window starts in.
CREATE TABLE channel_events (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER  NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    at          DATETIME NOT NULL,
    source      TEXT     NOT NULL CHECK (source IN ('whapi_webhook', 'poll', 'sync', 'admin', 'customer', 'job')),
    old_status  TEXT     NOT NULL,
    new_status  TEXT     NOT NULL,
    old_linked  BOOLEAN  NOT NULL,
    new_linked  BOOLEAN  NOT NULL,
    old_gate    TEXT     NOT NULL DEFAULT '',
    new_gate    TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX channel_events_channel ON channel_events(channel_id, at);
CREATE INDEX channel_events_at ON channel_events(at);

-- Test messages (issue 13, point 9): one row per attempt to send the fixed
-- test text from a linked channel, claimed before WHAPI is called and
-- settled after it answers. At most 5 rows per channel in any rolling hour
-- (the claim is one conditional INSERT … SELECT in a transaction,
-- models/testmessages.go), so the feature cannot be used to spam. A row
-- still 'pending' was claimed and never settled (a crash in between): it
-- counts, as the message may have gone out.
CREATE TABLE test_messages (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    -- Who asked (an email, or "system").
    actor      TEXT    NOT NULL DEFAULT '',
    -- The recipient with most digits hidden ("+44•••••••23"): never the
    -- whole number.
    to_masked  TEXT    NOT NULL CHECK (to_masked <> ''),
    -- On the service's clock.
    created_at DATETIME NOT NULL,
    outcome    TEXT    NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'sent', 'failed')),
    -- Why it failed, in plain words ('' unless failed).
    reason     TEXT    NOT NULL DEFAULT '',
    settled_at DATETIME,
    CHECK ((outcome = 'pending') = (settled_at IS NULL)),
    CHECK (outcome = 'failed' OR reason = '')
);
CREATE INDEX test_messages_channel_created ON test_messages(channel_id, created_at);

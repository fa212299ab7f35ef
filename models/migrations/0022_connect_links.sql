-- Connect links (issue 16, point 4): a link to one channel's connect page
-- that works without signing in, made by the channel's owner or an admin
-- (models/connect_links.go, provision/connect_links.go).
--
-- token_hash: the SHA-256 (hex) of the link's random token (32 bytes); the
-- token itself is shown once and never stored. expires_at: on the
-- service's clock, 5 minutes to 7 days after created_at. revoked_at: set
-- by Revoke. used_at: set in the same transaction that records the
-- channel's phone as linked (models.ApplyGate), so a link ends the moment
-- whapidesk learns of the link, whichever page, poll or webhook told it.
-- created_by: the user who made it (NULL once that user is gone, or for
-- links made by the system).
CREATE TABLE connect_links (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER  NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    token_hash TEXT     NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_by INTEGER  REFERENCES users(id) ON DELETE SET NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    revoked_at DATETIME,
    used_at    DATETIME,
    CHECK (expires_at > created_at)
);
CREATE INDEX connect_links_channel ON connect_links(channel_id, expires_at);

-- The connect page's QR of each channel, shared by every instance on this
-- database (issue 15, point 3), so that all the viewers of a channel, on
-- whichever instance, cost one QR call to its gate per QR lifetime
-- (models/qrcache.go, provision/connect.go).
--
-- png and qr_expires_at: the last QR fetched or sent by webhook, as a PNG,
-- and when it stops being shown (on the service's clock); both NULL when
-- there is none (dropped after an event that changes the line's status).
-- qr_fetching_until: the fetch lease. An instance takes it with one
-- conditional UPDATE (no fresh QR, lease free or past), calls the gate
-- outside any transaction, then stores the QR and frees it; the others
-- wait for what it stores. A lease left by an instance that died ends on
-- its own at that time. qr_generation counts the codes stored and
-- dropped: a fetch stores its code only if it is unchanged since the
-- lease was taken, so a code fetched before an event (a drop, a newer
-- code by webhook) never replaces what the event left.
CREATE TABLE channel_qr (
    channel_id        INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    png               BLOB,
    qr_expires_at     DATETIME,
    qr_fetching_until DATETIME,
    qr_generation     INTEGER NOT NULL DEFAULT 0,
    CHECK ((png IS NULL) = (qr_expires_at IS NULL))
);

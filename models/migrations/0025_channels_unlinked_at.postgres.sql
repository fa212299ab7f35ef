-- PostgreSQL's 0025_channels_unlinked_at.sql (timestamptz for DATETIME).
-- When a channel's phone was last unlinked, on the channel itself (NULL:
-- linked, or never unlinked): the Attention list, the dashboard's count of
-- it and the disconnect alerts find the lines down past the alert's delay
-- through the partial index below, in time that grows with the lines
-- down, not with every channel (reading each unlinked channel's history
-- took 3 ms at 20,000 channels on every admin dashboard view). Kept by
-- noteChannel, the one writer of the history, in the same transaction as
-- the event; filled here from the history for the lines down now.
ALTER TABLE channels ADD COLUMN unlinked_at TIMESTAMPTZ;
UPDATE channels SET unlinked_at = (
    SELECT e.at FROM channel_events e
    WHERE e.id = (SELECT MAX(x.id) FROM channel_events x WHERE x.channel_id = channels.id AND x.old_linked <> x.new_linked)
      AND e.old_linked AND NOT e.new_linked)
WHERE NOT linked;
CREATE INDEX channels_unlinked_at ON channels(unlinked_at) WHERE unlinked_at IS NOT NULL;

-- The gate host WHAPI reports for a channel (its apiUrl), as the last
-- create or sync read it; '' when WHAPI named none (the configured gate).
-- The WHAPI client decides at each call whether that host may receive the
-- channel's token.
ALTER TABLE channels ADD COLUMN api_url TEXT NOT NULL DEFAULT '';

-- The admin dashboard's plots (issue 17, point 2) read the last twelve
-- weeks of the day ledger and the channels created in them: these indexes
-- let both queries read only that span, whatever the table's size
-- (models/stats.go). channel_events already has its index on at.
CREATE INDEX day_ledger_created_at ON day_ledger(created_at);
CREATE INDEX channels_created_at ON channels(created_at);

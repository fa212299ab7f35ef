-- PostgreSQL's 0007_channel_extend_after.sql (timestamptz for DATETIME).
ALTER TABLE channels ADD COLUMN extend_after TIMESTAMPTZ;

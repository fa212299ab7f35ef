-- PostgreSQL's 0009_channel_stopped.sql (a boolean default FALSE for 0).
ALTER TABLE channels ADD COLUMN stopped BOOLEAN NOT NULL DEFAULT FALSE;

-- PostgreSQL's 0005_channel_safety.sql (a boolean default TRUE for 1).
CREATE UNIQUE INDEX operations_one_open_per_channel ON operations(channel_id)
    WHERE state IN ('reserved', 'sent');

ALTER TABLE channels ADD COLUMN till_confirmed BOOLEAN NOT NULL DEFAULT TRUE;

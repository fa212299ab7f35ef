-- At most one open (reserved or sent) operation per channel, in SQL: an
-- operation is judged from where the channel stood when it was reserved,
-- so a second change must wait until the first is settled — also when the
-- first belongs to a process that died (design §2, invariant 4).
CREATE UNIQUE INDEX operations_one_open_per_channel ON operations(channel_id)
    WHERE state IN ('reserved', 'sent');

-- Whether active_till is WHAPI's, read back after the last extend. An
-- extend confirmed without the read-back (lost answer, crash) leaves it
-- false until the next sync; refunds and the judging of the next extend
-- need WHAPI's value, so they sync first.
ALTER TABLE channels ADD COLUMN till_confirmed BOOLEAN NOT NULL DEFAULT 1;

-- When WHAPI takes another extend of the channel again: set when it
-- refused one because the channel was extended moments ago (its extend
-- cool-down), cleared when an extend goes through. The auto top-up leaves
-- the channel alone until then, whichever process runs it.
ALTER TABLE channels ADD COLUMN extend_after DATETIME;

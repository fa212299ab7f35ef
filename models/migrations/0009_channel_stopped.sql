-- Whether WHAPI holds a running channel (trial or active) stopped: its line
-- does not work until it is started again. A flag on the running states, not
-- a state of its own: a stopped channel keeps its state, so it keeps its plan
-- slot, its days run on at WHAPI (activeTill does not move), and the top-up,
-- the expiring lists and expiry treat it as the running channel it is. Only
-- what may be done to it and the words for it change (provision/lifecycle.go).
-- The stop and start workflows set it, and every sync sets it from WHAPI's
-- "stopped" while the channel has days; in any other state it means nothing.
ALTER TABLE channels ADD COLUMN stopped BOOLEAN NOT NULL DEFAULT 0;

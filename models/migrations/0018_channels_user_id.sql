-- A customer's channels, newest first: the JSON API's list (GET
-- /api/channels, ListChannelSummaries) is WHERE user_id = ? ORDER BY id
-- DESC LIMIT ?. channels_user_status (user_id, status) finds the rows but
-- in status order, so every call sorted all of the customer's channels,
-- the deleted ones that pile up over the years included; this index walks
-- them in id order and stops after a page. The same on both databases
-- (on SQLite id is the rowid, which every index ends with anyway).
CREATE INDEX channels_user_id ON channels(user_id, id);

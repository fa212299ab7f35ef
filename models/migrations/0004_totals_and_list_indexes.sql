-- Running totals for the admin pages, and indexes that fit the admin lists.
--
-- The dashboard and the list pagers used to count or sum whole tables on
-- every view (channels by status, the day ledger by kind, the users and
-- channels a list has), work that grows with the data. They now read a few
-- rows of `totals`. The triggers below keep every total in the same
-- statement, so in the same transaction, as the change it counts: a rolled
-- back change rolls its totals back, and no code path (a workflow, a job,
-- a hand-written UPDATE) can leave them behind. Store.CheckTotals recounts
-- them from the rows.
--
--   users:<role>           users with that role
--   channels:<status>      channels in that status
--   day_ledger:<kind>      SUM(delta) of the customers' ledger rows of that kind
--   partner_ledger:<kind>  SUM(delta) of the partner ledger rows of that kind
--   audit_events           audit events
--
-- Each trigger adds with an upsert, so a status or kind added later gets
-- its row on first use. (On a database with several writers a single hot
-- row would serialise them; SQLite has one writer at a time anyway.)
CREATE TABLE totals (
    name TEXT    PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO totals (name, n) SELECT 'users:' || role, COUNT(*) FROM users GROUP BY role;
INSERT INTO totals (name, n) SELECT 'channels:' || status, COUNT(*) FROM channels GROUP BY status;
INSERT INTO totals (name, n) SELECT 'day_ledger:' || kind, SUM(delta) FROM day_ledger GROUP BY kind;
INSERT INTO totals (name, n) SELECT 'partner_ledger:' || kind, SUM(delta) FROM partner_ledger GROUP BY kind;
INSERT INTO totals (name, n) SELECT 'audit_events', COUNT(*) FROM audit_events;

-- users
CREATE TRIGGER totals_users_insert AFTER INSERT ON users
BEGIN
    INSERT INTO totals (name, n) VALUES ('users:' || NEW.role, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_users_update AFTER UPDATE OF role ON users WHEN OLD.role IS NOT NEW.role
BEGIN
    INSERT INTO totals (name, n) VALUES ('users:' || OLD.role, -1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    INSERT INTO totals (name, n) VALUES ('users:' || NEW.role, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_users_delete AFTER DELETE ON users
BEGIN
    INSERT INTO totals (name, n) VALUES ('users:' || OLD.role, -1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

-- channels
CREATE TRIGGER totals_channels_insert AFTER INSERT ON channels
BEGIN
    INSERT INTO totals (name, n) VALUES ('channels:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_channels_update AFTER UPDATE OF status ON channels WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO totals (name, n) VALUES ('channels:' || OLD.status, -1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    INSERT INTO totals (name, n) VALUES ('channels:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_channels_delete AFTER DELETE ON channels
BEGIN
    INSERT INTO totals (name, n) VALUES ('channels:' || OLD.status, -1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

-- day_ledger (append-only: its BEFORE UPDATE/DELETE triggers refuse those;
-- the triggers for them here only matter if that rule is ever lifted)
CREATE TRIGGER totals_day_ledger_insert AFTER INSERT ON day_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('day_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_day_ledger_update AFTER UPDATE OF kind, delta ON day_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('day_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    INSERT INTO totals (name, n) VALUES ('day_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_day_ledger_delete AFTER DELETE ON day_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('day_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

-- partner_ledger (append-only too)
CREATE TRIGGER totals_partner_ledger_insert AFTER INSERT ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_partner_ledger_update AFTER UPDATE OF kind, delta ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || NEW.kind, NEW.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_partner_ledger_delete AFTER DELETE ON partner_ledger
BEGIN
    INSERT INTO totals (name, n) VALUES ('partner_ledger:' || OLD.kind, -OLD.delta) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

-- audit_events
CREATE TRIGGER totals_audit_events_insert AFTER INSERT ON audit_events
BEGIN
    INSERT INTO totals (name, n) VALUES ('audit_events', 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER totals_audit_events_delete AFTER DELETE ON audit_events
BEGIN
    INSERT INTO totals (name, n) VALUES ('audit_events', -1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

-- The customer list: one role, by email, a page at a time, walks this
-- index instead of sorting every user.
CREATE INDEX users_role_email ON users(role, email);

-- The channel list filtered by status, newest first: (status, rowid) order,
-- no sort of every channel in that status.
CREATE INDEX channels_status ON channels(status);

-- Running channels by the day they run out (the dashboard's "expiring
-- soon", the list's expiring filter): soonest first without a sort, and
-- only running channels in the index.
CREATE INDEX channels_running_till ON channels(active_till) WHERE status IN ('trial', 'active');

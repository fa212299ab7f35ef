-- PostgreSQL's 0004_totals_and_list_indexes.sql: the same running totals,
-- kept by triggers in the same statement as the change they count (see the
-- SQLite file for what each total is), and the same list indexes.
CREATE TABLE totals (
    name TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);

INSERT INTO totals (name, n) SELECT 'users:' || role, COUNT(*) FROM users GROUP BY role;
INSERT INTO totals (name, n) SELECT 'channels:' || status, COUNT(*) FROM channels GROUP BY status;
INSERT INTO totals (name, n) SELECT 'day_ledger:' || kind, SUM(delta) FROM day_ledger GROUP BY kind;
INSERT INTO totals (name, n) SELECT 'partner_ledger:' || kind, SUM(delta) FROM partner_ledger GROUP BY kind;
INSERT INTO totals (name, n) SELECT 'audit_events', COUNT(*) FROM audit_events;

-- totals_add adds d to the total called name, making its row on first use.
CREATE FUNCTION totals_add(total TEXT, d BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO totals (name, n) VALUES (total, d) ON CONFLICT (name) DO UPDATE SET n = totals.n + excluded.n;
$$;

-- users
CREATE FUNCTION totals_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM totals_add('users:' || OLD.role, -1); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM totals_add('users:' || NEW.role, 1); END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER totals_users_insert AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION totals_users();
CREATE TRIGGER totals_users_update AFTER UPDATE OF role ON users FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role) EXECUTE FUNCTION totals_users();
CREATE TRIGGER totals_users_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION totals_users();

-- channels
CREATE FUNCTION totals_channels() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM totals_add('channels:' || OLD.status, -1); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM totals_add('channels:' || NEW.status, 1); END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER totals_channels_insert AFTER INSERT ON channels FOR EACH ROW EXECUTE FUNCTION totals_channels();
CREATE TRIGGER totals_channels_update AFTER UPDATE OF status ON channels FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION totals_channels();
CREATE TRIGGER totals_channels_delete AFTER DELETE ON channels FOR EACH ROW EXECUTE FUNCTION totals_channels();

-- day_ledger and partner_ledger (append-only: their BEFORE UPDATE/DELETE
-- triggers refuse those; the update and delete cases here only matter if
-- that rule is ever lifted)
CREATE FUNCTION totals_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM totals_add(TG_TABLE_NAME || ':' || OLD.kind, -OLD.delta); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM totals_add(TG_TABLE_NAME || ':' || NEW.kind, NEW.delta); END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER totals_day_ledger_insert AFTER INSERT ON day_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();
CREATE TRIGGER totals_day_ledger_update AFTER UPDATE OF kind, delta ON day_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();
CREATE TRIGGER totals_day_ledger_delete AFTER DELETE ON day_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();
CREATE TRIGGER totals_partner_ledger_insert AFTER INSERT ON partner_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();
CREATE TRIGGER totals_partner_ledger_update AFTER UPDATE OF kind, delta ON partner_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();
CREATE TRIGGER totals_partner_ledger_delete AFTER DELETE ON partner_ledger FOR EACH ROW EXECUTE FUNCTION totals_ledger();

-- audit_events
CREATE FUNCTION totals_audit_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM totals_add('audit_events', CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END);
    RETURN NULL;
END;
$$;
CREATE TRIGGER totals_audit_events_insert AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION totals_audit_events();
CREATE TRIGGER totals_audit_events_delete AFTER DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION totals_audit_events();

CREATE INDEX users_role_email ON users(role, email);
CREATE INDEX channels_status ON channels(status, id);
CREATE INDEX channels_running_till ON channels(active_till) WHERE status IN ('trial', 'active');

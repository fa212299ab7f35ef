-- Running totals spread over 64 rows each on PostgreSQL (issue 15's bench:
-- with three instances and 50 clients, every credit's triggers updated the
-- same two rows, "day_ledger:admin_credit" and "audit_events", and the
-- transactions queued on those row locks until each one committed, so
-- three instances wrote less than one). A total is now the sum of its rows
-- (name, shard); a transaction adds to the shard of its connection
-- (pg_backend_pid() % 64), so concurrent transactions mostly touch
-- different rows, while one connection always uses one row (no lock-order
-- change inside a transaction, so no new deadlock). Every reader sums over
-- the shards (models/totals.go, models/partner.go, models/audit.go).
--
-- SQLite keeps one row per total (its 0023 file changes nothing): its one
-- writer (models/writer.go) never has two transactions waiting on a total,
-- and its triggers' ON CONFLICT (name) would all have to be rewritten for
-- nothing. The readers' sums read both shapes alike.
ALTER TABLE totals ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0
    CONSTRAINT totals_shard_check CHECK (shard >= 0 AND shard < 64);
ALTER TABLE totals DROP CONSTRAINT totals_pkey;
ALTER TABLE totals ADD PRIMARY KEY (name, shard);

CREATE OR REPLACE FUNCTION totals_add(total TEXT, d BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO totals (name, shard, n) VALUES (total, pg_backend_pid() % 64, d)
    ON CONFLICT (name, shard) DO UPDATE SET n = totals.n + excluded.n;
$$;

-- PostgreSQL spreads each running total over 16 rows (see
-- 0023_totals_shards.postgres.sql for why). SQLite keeps one row per total:
-- its one writer (models/writer.go) never has two transactions waiting on
-- a total's row. The readers sum a total's rows, so they read both shapes
-- alike. Nothing changes here; the version is kept so that both databases
-- count the same migrations.
SELECT 1;

-- PostgreSQL's 0033_api_key_form.sql.
-- The form that made each API key (the keys page): a random token the
-- page puts in its form, so that the same form sent twice (a reload of the
-- answer, a double click) makes one key, not two. NULL for keys made by
-- the command line and before this migration; a unique index, which both
-- databases let hold any number of NULLs.
ALTER TABLE api_keys ADD COLUMN form_token TEXT;
CREATE UNIQUE INDEX api_keys_form_token ON api_keys (form_token);

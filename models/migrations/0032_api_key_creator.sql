-- Who made each API key (issue 17, point 5: the API keys page lists it):
-- the e-mail of the admin who made it, or 'system' for the command line.
-- Keys made before this migration say '' (not recorded).
ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

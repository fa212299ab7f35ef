-- WHAPI's list of the partner's projects (id, name, default) as the last
-- check of the token that WHAPI answered listed them (GET /projects), so
-- the WHAPI Settings page can offer them to pick from without asking
-- WHAPI on every view. A JSON array; empty until a check is answered, and
-- emptied when the token is replaced or removed.
ALTER TABLE settings ADD COLUMN whapi_projects TEXT NOT NULL DEFAULT '[]';
ALTER TABLE settings ADD COLUMN projects_listed_at DATETIME;

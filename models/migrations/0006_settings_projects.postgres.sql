-- PostgreSQL's 0006_settings_projects.sql (timestamptz for DATETIME).
ALTER TABLE settings ADD COLUMN whapi_projects TEXT NOT NULL DEFAULT '[]';
ALTER TABLE settings ADD COLUMN projects_listed_at TIMESTAMPTZ;

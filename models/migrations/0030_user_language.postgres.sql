-- PostgreSQL's 0030_user_language.sql.
-- Each user's language (issue 17, point 1): a BCP 47 tag of a language the
-- catalog speaks (internal/i18n.Languages: en, ar, fr, …), or '' for none:
-- the browser's Accept-Language decides. The list of languages lives in
-- the catalog, not here (adding one is adding its file); the app refuses
-- a tag the catalog lacks before it writes one.
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT ''
    CHECK (language = '' OR length(language) BETWEEN 2 AND 12);

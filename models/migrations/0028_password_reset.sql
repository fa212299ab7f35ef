-- Forgot password (issue 16, point 3): a password-reset link is a
-- user_tokens row of its own purpose, 'password_reset' (single use, one
-- hour, only the token's hash stored, models/user_tokens.go), and the
-- reset form's requests are throttled per address asked for and per client
-- in login_attempts under two kinds of their own (handlers/forgot_password.go):
--   reset_account  the SHA-256 of the normalised e-mail asked for (never the
--                  address itself, and the same whether or not it exists);
--   reset_address  the client's address (an IPv6 one as its /64).
--
-- SQLite cannot change a CHECK constraint in place, so both tables are
-- rebuilt (a new table, the rows copied, the old one dropped, the new one
-- renamed) with their indexes made again; nothing refers to either table.
-- PostgreSQL's twin changes the constraints with ALTER TABLE.
CREATE TABLE user_tokens_new (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT     NOT NULL CHECK (purpose IN ('set_password', 'password_reset')),
    token_hash TEXT     NOT NULL CHECK (length(token_hash) = 64),
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME,
    revoked_at DATETIME
);
INSERT INTO user_tokens_new (id, user_id, purpose, token_hash, created_at, expires_at, used_at, revoked_at)
SELECT id, user_id, purpose, token_hash, created_at, expires_at, used_at, revoked_at FROM user_tokens;
DROP TABLE user_tokens;
ALTER TABLE user_tokens_new RENAME TO user_tokens;
CREATE UNIQUE INDEX user_tokens_hash ON user_tokens(token_hash);
CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose);

CREATE TABLE login_attempts_new (
    id         INTEGER PRIMARY KEY,
    kind       TEXT     NOT NULL CHECK (kind IN ('account', 'address', 'device', 'password', 'reset_account', 'reset_address')),
    key        TEXT     NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    -- On the throttle's clock.
    created_at DATETIME NOT NULL
);
INSERT INTO login_attempts_new (id, kind, key, created_at) SELECT id, kind, key, created_at FROM login_attempts;
DROP TABLE login_attempts;
ALTER TABLE login_attempts_new RENAME TO login_attempts;
CREATE INDEX login_attempts_key_created ON login_attempts(kind, key, created_at);
CREATE INDEX login_attempts_created ON login_attempts(created_at);

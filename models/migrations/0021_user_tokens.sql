-- Set-password links (issue 16, point 3: the invitation): a random token of
-- 256 bits is mailed to the user; only its SHA-256 (hex) is kept here, so a
-- copy of the database opens no account. A token is good once, until
-- expires_at (72 hours for an invitation): using it sets used_at in the
-- same transaction as the new password, by a conditional update, so two
-- uses race and one wins. A resend revokes every unspent token of the user
-- (revoked_at) in the transaction that makes the new one. models/user_tokens.go
-- has the rules.
CREATE TABLE user_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT     NOT NULL CHECK (purpose IN ('set_password')),
    token_hash TEXT     NOT NULL CHECK (length(token_hash) = 64),
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME,
    revoked_at DATETIME
);
CREATE UNIQUE INDEX user_tokens_hash ON user_tokens(token_hash);
CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose);

-- The sign-in throttle, counted in the database (issue 15, point 3), so that
-- every instance on this database counts one browser's, account's or
-- address's failures together (handlers/throttle.go has the rules,
-- models/login_attempts.go the claim).
--
-- login_attempts: one row per sign-in (or current-password) attempt,
-- claimed before the password is checked; a good sign-in takes its row
-- back or clears its key (the trusted browser's, the password form's).
-- kind says what the key counts: 'account' (the key is the SHA-256 of the
-- normalised e-mail, never the address itself), 'address' (a client
-- address, an IPv6 one as its /64), 'device' (a trusted browser's cookie
-- nonce) or 'password' (a user id). Rows are pruned per key by the claims
-- and all at once, past the longest window, by the hourly session cleanup.
CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    kind       TEXT     NOT NULL CHECK (kind IN ('account', 'address', 'device', 'password')),
    key        TEXT     NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    -- On the throttle's clock.
    created_at DATETIME NOT NULL
);
CREATE INDEX login_attempts_key_created ON login_attempts(kind, key, created_at);
CREATE INDEX login_attempts_created ON login_attempts(created_at);

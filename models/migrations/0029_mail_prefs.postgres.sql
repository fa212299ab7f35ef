-- PostgreSQL's 0029_mail_prefs.sql (BIGINT ids, timestamptz for DATETIME).
-- Mail preferences (issue 16, point 3): each user can switch off each kind
-- of mail that is not a security mail. A row says whether one user wants one
-- kind; no row means yes (every kind is on by default). The security mails
-- (the invitation, the password reset) are always sent and have no row:
-- the CHECK lists only the kinds that can be switched. provision/mail.go's
-- queueMail reads this table in the transaction that would queue a mail,
-- and writes nothing when the kind is off.
CREATE TABLE mail_prefs (
    user_id    BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT        NOT NULL CHECK (kind IN ('disconnect_alert', 'expiry_reminder', 'admin_alert', 'admin_digest')),
    enabled    BOOLEAN     NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, kind)
);

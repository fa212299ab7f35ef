-- The mail outbox (issue 16, point 2): every mail the app sends is first a
-- row here, written in the same transaction as the change that causes it,
-- together with the send_mail job that points at it (jobs/work.go), so a
-- mail exists if and only if its cause committed. models/outbox.go has the
-- rules.
--
-- The bodies are rendered when the mail is queued, so the admin's Outbox
-- page shows exactly what is (or was) sent. unique_key names the cause
-- (kind, subject, period: 'invitation:user:7:token:12'); its UNIQUE index
-- makes a cause that fires twice queue one mail. state moves
-- queued -> sending -> sent, or -> failed (a permanent refusal); a
-- temporary failure puts the row back to queued; an admin's retry moves
-- failed -> queued. A row left 'sending' by a crash is sent again, with the
-- same message_id (at least once: the receiver can tell a re-send).
CREATE TABLE mail_outbox (
    id          INTEGER PRIMARY KEY,
    kind        TEXT     NOT NULL CHECK (length(kind) BETWEEN 1 AND 50),
    user_id     INTEGER  REFERENCES users(id) ON DELETE SET NULL,
    to_address  TEXT     NOT NULL CHECK (length(to_address) BETWEEN 3 AND 254),
    subject     TEXT     NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    text_body   TEXT     NOT NULL CHECK (length(text_body) >= 1),
    html_body   TEXT     NOT NULL DEFAULT '',
    unique_key  TEXT     NOT NULL CHECK (length(unique_key) BETWEEN 1 AND 200),
    message_id  TEXT     NOT NULL CHECK (length(message_id) BETWEEN 3 AND 250),
    state       TEXT     NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts    INTEGER  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  TEXT     NOT NULL DEFAULT '',
    reply       TEXT     NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    sent_at     DATETIME,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE UNIQUE INDEX mail_outbox_unique_key ON mail_outbox(unique_key);
CREATE UNIQUE INDEX mail_outbox_message_id ON mail_outbox(message_id);
CREATE INDEX mail_outbox_state ON mail_outbox(state, id);

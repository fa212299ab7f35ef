-- Webhook deliveries (issue 16, point 5): one row per event and endpoint,
-- written in the same transaction as the event's cause together with its
-- deliver_webhook job (jobs/webhooks.go), so a delivery exists if and only
-- if its cause committed. UNIQUE (endpoint_id, event_id): an event queued
-- twice is delivered once per endpoint.
--
-- state moves queued -> sending -> delivered, or -> failed (refused for
-- good, or still failing 24 hours after the first attempt); a failure a
-- retry may help puts it back to queued with next_attempt_at. A row left
-- 'sending' by a crash is claimed again once its lease has passed and sent
-- again with the same event id (at least once: receivers skip a repeat).
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    endpoint_id      INTEGER  NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id         TEXT     NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    event_type       TEXT     NOT NULL CHECK (length(event_type) BETWEEN 1 AND 50),
    payload          TEXT     NOT NULL CHECK (length(payload) >= 2),
    state            TEXT     NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'delivered', 'failed')),
    attempts         INTEGER  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  DATETIME NOT NULL,
    first_attempt_at DATETIME,
    last_status      INTEGER  NOT NULL DEFAULT 0,
    last_latency_ms  INTEGER  NOT NULL DEFAULT 0,
    last_error       TEXT     NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    delivered_at     DATETIME,
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries(endpoint_id, event_id);
CREATE INDEX webhook_deliveries_state ON webhook_deliveries(state, id);

-- Every attempt of a delivery, for the endpoint's page: when, the answer's
-- status (0: none), how long it took, and the error.
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER  NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id  INTEGER  NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    attempted_at DATETIME NOT NULL,
    status_code  INTEGER  NOT NULL DEFAULT 0,
    latency_ms   INTEGER  NOT NULL DEFAULT 0,
    error        TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);

-- Webhooks out (issue 16, point 5): the reseller's own endpoints, each an
-- address and the events it chose (models/webhooks.go,
-- provision/webhooks.go).
--
-- secret_enc: the signing secret sealed with the store's cipher (like the
-- partner token), shown once at creation and at rotation. After a
-- rotation the previous secret stays in prev_secret_enc until
-- prev_secret_until (24 hours): each request is then signed with both, so
-- a receiver still holding the old one keeps verifying (docs/webhooks.md).
-- active: a paused endpoint gets no new deliveries.
CREATE TABLE webhook_endpoints (
    id                INTEGER PRIMARY KEY,
    url               TEXT     NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    secret_enc        TEXT     NOT NULL CHECK (length(secret_enc) >= 1),
    prev_secret_enc   TEXT     NOT NULL DEFAULT '',
    prev_secret_until DATETIME,
    active            BOOLEAN  NOT NULL DEFAULT TRUE,
    created_by        INTEGER  REFERENCES users(id) ON DELETE SET NULL,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);

-- The events an endpoint chose: one row each, so that an event finds its
-- endpoints with one join (provision's queueEvent).
CREATE TABLE webhook_endpoint_events (
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type  TEXT    NOT NULL CHECK (event_type IN ('channel.created', 'channel.linked', 'channel.unlinked',
        'channel.expiring', 'channel.extended', 'channel.deleted', 'customer.created')),
    PRIMARY KEY (endpoint_id, event_type)
);
CREATE INDEX webhook_endpoint_events_type ON webhook_endpoint_events(event_type, endpoint_id);

-- Webhooks: endpoints, the outbox (one delivery per notice and endpoint, written in the batch of the
-- change) and every attempt at sending one. last_sequence numbers an endpoint's deliveries from 1
-- without gaps; lease_until and leased_by let several nodes share the sending (unused on SQLite,
-- which has one process).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    topics          INTEGER NOT NULL,
    description     TEXT,
    secret          TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT,
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_sequence   INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    leased_by       TEXT
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, created_at);

-- status: 0 pending, 1 delivered, 2 failed
CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    tenant_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    type            TEXT NOT NULL,
    event_id        TEXT,
    occurred_at     INTEGER NOT NULL,
    data            TEXT NOT NULL,
    status          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    retrying_since  INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    PRIMARY KEY (endpoint_id, sequence)
);
-- The dispatcher's question: what is each endpoint's next pending delivery?
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, sequence) WHERE status = 0;

CREATE TABLE webhook_attempts (
    endpoint_id     TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    duration_ms     INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, sequence, attempt)
);

-- Webhooks: endpoints, the outbox (one delivery per notice and endpoint, written in the batch of the
-- change) and every attempt at sending one. last_sequence numbers an endpoint's deliveries from 1
-- without gaps; lease_until and leased_by let several nodes share the sending (unused on SQLite,
-- which has one process).
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    url             text NOT NULL,
    topics          integer NOT NULL,
    description     text,
    secret          text NOT NULL,
    enabled         boolean NOT NULL,
    disabled_reason text,
    failing_since   bigint,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    last_sequence   bigint NOT NULL DEFAULT 0,
    lease_until     bigint,
    leased_by       text
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, created_at);

-- status: 0 pending, 1 delivered, 2 failed
CREATE TABLE webhook_deliveries (
    endpoint_id     uuid NOT NULL,
    sequence        bigint NOT NULL,
    tenant_id       uuid NOT NULL,
    message_id      uuid NOT NULL,
    type            text NOT NULL,
    event_id        text,
    occurred_at     bigint NOT NULL,
    data            text NOT NULL,
    status          integer NOT NULL,
    attempts        integer NOT NULL,
    next_attempt_at bigint,
    retrying_since  bigint NOT NULL,
    delivered_at    bigint,
    last_status     integer,
    last_error      text,
    PRIMARY KEY (endpoint_id, sequence)
);
-- The dispatcher's question: what is each endpoint's next pending delivery?
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, sequence) WHERE status = 0;

CREATE TABLE webhook_attempts (
    endpoint_id     uuid NOT NULL,
    sequence        bigint NOT NULL,
    attempt         integer NOT NULL,
    at              bigint NOT NULL,
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    PRIMARY KEY (endpoint_id, sequence, attempt)
);

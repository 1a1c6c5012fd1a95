-- Times are Unix milliseconds (UTC). Money is numeric, never floating point.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  bigint NOT NULL
);

-- Only the SHA-256 of a key is kept.
CREATE TABLE api_keys (
    key_hash    bytea PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    created_at  bigint NOT NULL
);

CREATE TABLE capacities (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    event_id        text NOT NULL,
    schedule_id     text,
    section_name    text NOT NULL,
    section_code    text,
    total_capacity  integer,
    parent_ids      uuid[] NOT NULL, -- fixed at creation
    is_active       boolean NOT NULL,
    reserved        bigint NOT NULL CHECK (reserved >= 0),
    sold            bigint NOT NULL CHECK (sold >= 0),
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    CHECK (total_capacity IS NULL OR reserved + sold <= total_capacity)
);
CREATE INDEX capacities_by_event ON capacities (tenant_id, event_id, created_at);

CREATE TABLE pricing (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    capacity_id     uuid NOT NULL REFERENCES capacities (id),
    name            text NOT NULL,
    base_price      numeric NOT NULL,
    current_price   numeric,
    service_fee     numeric NOT NULL,
    facility_fee    numeric NOT NULL,
    tax_rate        numeric NOT NULL,
    currency        text NOT NULL,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL
);
CREATE INDEX pricing_by_capacity ON pricing (capacity_id, created_at);

-- status: 0 active, 1 confirmed, 2 released, 3 expired, 4 cancelled
CREATE TABLE reservations (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    status          smallint NOT NULL,
    items           text NOT NULL, -- JSON: capacity, quantity and the locked price of each item
    created_at      bigint NOT NULL,
    expires_at      bigint NOT NULL,
    confirmed_at    bigint,
    ended_at        bigint
);
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 0;
CREATE INDEX reservations_live ON reservations (status) WHERE status IN (0, 1);

-- Append-only. seq orders entries within a commit; across nodes it follows commit order per capacity
-- (rows are locked), which is all the audit needs.
CREATE TABLE ledger (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    event_id        text NOT NULL,
    capacity_id     uuid NOT NULL,
    reservation_id  uuid NOT NULL,
    kind            smallint NOT NULL,
    reserved_delta  bigint NOT NULL,
    sold_delta      bigint NOT NULL,
    at              bigint NOT NULL
);
CREATE INDEX ledger_by_event ON ledger (tenant_id, event_id, seq);
CREATE INDEX ledger_by_capacity ON ledger (capacity_id);

CREATE TABLE idempotency (
    tenant_id       uuid NOT NULL,
    key             text NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    request_hash    bytea NOT NULL,
    status          integer NOT NULL,
    body            bytea NOT NULL,
    location        text,
    created_at      bigint NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);

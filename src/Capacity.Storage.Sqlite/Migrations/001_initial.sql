-- Times are Unix milliseconds (UTC). Ids are lower-case GUID text. Money is decimal text, so that
-- no value ever passes through floating point.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Only the SHA-256 of a key is kept.
CREATE TABLE api_keys (
    key_hash    BLOB PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    created_at  INTEGER NOT NULL
);

CREATE TABLE capacities (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    schedule_id     TEXT,
    section_name    TEXT NOT NULL,
    section_code    TEXT,
    total_capacity  INTEGER,
    parent_ids      TEXT NOT NULL, -- comma-separated; fixed at creation
    is_active       INTEGER NOT NULL,
    reserved        INTEGER NOT NULL CHECK (reserved >= 0),
    sold            INTEGER NOT NULL CHECK (sold >= 0),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK (total_capacity IS NULL OR reserved + sold <= total_capacity)
);
CREATE INDEX capacities_by_event ON capacities (tenant_id, event_id, created_at);

CREATE TABLE pricing (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    capacity_id     TEXT NOT NULL REFERENCES capacities (id),
    name            TEXT NOT NULL,
    base_price      TEXT NOT NULL,
    current_price   TEXT,
    service_fee     TEXT NOT NULL,
    facility_fee    TEXT NOT NULL,
    tax_rate        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX pricing_by_capacity ON pricing (capacity_id, created_at);

-- status: 0 active, 1 confirmed, 2 released, 3 expired, 4 cancelled
CREATE TABLE reservations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    status          INTEGER NOT NULL,
    items           TEXT NOT NULL, -- JSON: capacity, quantity and the locked price of each item
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    ended_at        INTEGER
);
-- The sweeper's question: which active holds are due?
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 0;
CREATE INDEX reservations_live ON reservations (status) WHERE status IN (0, 1);

-- Append-only. seq is the order of commits.
CREATE TABLE ledger (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    capacity_id     TEXT NOT NULL,
    reservation_id  TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    reserved_delta  INTEGER NOT NULL,
    sold_delta      INTEGER NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX ledger_by_event ON ledger (tenant_id, event_id, seq);
CREATE INDEX ledger_by_capacity ON ledger (capacity_id);

CREATE TABLE idempotency (
    tenant_id       TEXT NOT NULL,
    key             TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    request_hash    BLOB NOT NULL,
    status          INTEGER NOT NULL,
    body            BLOB NOT NULL,
    location        TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);

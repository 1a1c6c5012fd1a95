-- rebuilds a table (capacities, which pricing and allocations refer to; see SqliteStore.MigrateAsync)
-- A capacity's sale rules (window, the tier it opens after, close when sold out, overbooking) and
-- what became of them (tier opened, first sold out, closed by rule, the tiers that follow it), as one
-- JSON object in `sale`, null for nearly every capacity; and `overbook_limit` as a column of its own,
-- because the table's own check must now allow reserved + sold up to total + allowance. SQLite cannot
-- change a check in place, so the table is rebuilt with the same columns, in the same order.
CREATE TABLE capacities_009 (
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
    allocations     INTEGER NOT NULL DEFAULT 0,
    limit_ids       TEXT NOT NULL DEFAULT '',
    waitlist        TEXT,
    waiting_units   INTEGER NOT NULL DEFAULT 0,
    queue_demand    INTEGER NOT NULL DEFAULT 0,
    offered_units   INTEGER NOT NULL DEFAULT 0,
    sale            TEXT,
    overbook_limit  INTEGER NOT NULL DEFAULT 0 CHECK (overbook_limit >= 0),
    CHECK (total_capacity IS NULL OR reserved + sold <= total_capacity + overbook_limit)
);
INSERT INTO capacities_009 (id, tenant_id, event_id, schedule_id, section_name, section_code, total_capacity, parent_ids, is_active,
        reserved, sold, created_at, updated_at, allocations, limit_ids, waitlist, waiting_units, queue_demand, offered_units)
    SELECT id, tenant_id, event_id, schedule_id, section_name, section_code, total_capacity, parent_ids, is_active,
        reserved, sold, created_at, updated_at, allocations, limit_ids, waitlist, waiting_units, queue_demand, offered_units
    FROM capacities;
DROP TABLE capacities;
ALTER TABLE capacities_009 RENAME TO capacities;
CREATE INDEX capacities_by_event ON capacities (tenant_id, event_id, created_at);

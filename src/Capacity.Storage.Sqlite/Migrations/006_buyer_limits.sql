-- Per-buyer limits: at most per_buyer_max tickets per buyer key over capacity_ids (comma-separated,
-- fixed at creation). Usage is kept per (capacity, buyer key) for every keyed hold, limit or not,
-- so a limit created after the sales counts them.
CREATE TABLE buyer_limits (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    name               TEXT NOT NULL,
    capacity_ids       TEXT NOT NULL,
    per_buyer_max      INTEGER NOT NULL,
    require_buyer_key  INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX buyer_limits_by_event ON buyer_limits (tenant_id, event_id, created_at, id);

CREATE TABLE buyer_usage (
    capacity_id  TEXT NOT NULL,
    buyer_key    TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    used         INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (capacity_id, buyer_key)
) WITHOUT ROWID;

-- The limits that cover a capacity (comma-separated ids): empty for nearly all, and then a hold on
-- it looks at no limit.
ALTER TABLE capacities ADD COLUMN limit_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN buyer_key TEXT;

-- Allocations: blocks of a capacity set aside for a box office, a sponsor or a channel.
-- status: 0 open, 1 closed. The capacity and every ancestor carry size - sold of each in reserved.
CREATE TABLE allocations (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    capacity_id TEXT NOT NULL REFERENCES capacities (id),
    event_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    held        INTEGER NOT NULL CHECK (held >= 0),
    sold        INTEGER NOT NULL CHECK (sold >= 0),
    expires_at  INTEGER,
    status      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (held + sold <= size)
);
CREATE INDEX allocations_by_capacity ON allocations (capacity_id, created_at, id);
CREATE INDEX allocations_by_event ON allocations (tenant_id, event_id, created_at, id);
-- The sweeper's query: open allocations past their expiry.
CREATE INDEX allocations_due ON allocations (expires_at, id) WHERE status = 0 AND expires_at IS NOT NULL;

-- How many allocations a capacity ever had: a read lists them only when there are some.
ALTER TABLE capacities ADD COLUMN allocations INTEGER NOT NULL DEFAULT 0;

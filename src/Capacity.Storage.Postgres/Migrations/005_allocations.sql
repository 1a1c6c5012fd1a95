-- Allocations: blocks of a capacity set aside for a box office, a sponsor or a channel.
-- status: 0 open, 1 closed. The capacity and every ancestor carry size - sold of each in reserved.
CREATE TABLE allocations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    capacity_id uuid NOT NULL REFERENCES capacities (id),
    event_id    text NOT NULL,
    name        text NOT NULL,
    size        bigint NOT NULL,
    held        bigint NOT NULL CHECK (held >= 0),
    sold        bigint NOT NULL CHECK (sold >= 0),
    expires_at  bigint,
    status      smallint NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    CHECK (held + sold <= size)
);
CREATE INDEX allocations_by_capacity ON allocations (capacity_id, created_at, id);
CREATE INDEX allocations_by_event ON allocations (tenant_id, event_id, created_at, id);
-- The sweeper's query: open allocations past their expiry.
CREATE INDEX allocations_due ON allocations (expires_at, id) WHERE status = 0 AND expires_at IS NOT NULL;

-- How many allocations a capacity ever had: a read lists them only when there are some.
ALTER TABLE capacities ADD COLUMN allocations integer NOT NULL DEFAULT 0;

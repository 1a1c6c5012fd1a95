-- Per-buyer limits: at most per_buyer_max tickets per buyer key over capacity_ids (fixed at
-- creation). Usage is kept per (capacity, buyer key) for every keyed hold, limit or not, so a limit
-- created after the sales counts them. A usage row is written only under its capacity's row lock,
-- and read for a limit's other capacities under the limit's row lock, which every hold on those
-- capacities also takes: usage is exact across nodes.
CREATE TABLE buyer_limits (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    event_id           text NOT NULL,
    name               text NOT NULL,
    capacity_ids       uuid[] NOT NULL,
    per_buyer_max      integer NOT NULL,
    require_buyer_key  boolean NOT NULL,
    created_at         bigint NOT NULL,
    updated_at         bigint NOT NULL
);
CREATE INDEX buyer_limits_by_event ON buyer_limits (tenant_id, event_id, created_at, id);

CREATE TABLE buyer_usage (
    capacity_id  uuid NOT NULL,
    buyer_key    text NOT NULL,
    tenant_id    uuid NOT NULL,
    used         bigint NOT NULL CHECK (used >= 0),
    PRIMARY KEY (capacity_id, buyer_key)
);

ALTER TABLE capacities ADD COLUMN limit_ids uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE reservations ADD COLUMN buyer_key text;

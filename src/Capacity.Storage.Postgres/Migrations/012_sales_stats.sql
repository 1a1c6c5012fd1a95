-- The organiser's figures (GET /events/{id}/stats), kept by the engine in the batch that moves the
-- tickets: per capacity and Unix minute, the tickets held, confirmed, released, expired, cancelled and
-- reclaimed (counted on the capacity a hold's item names, never on its ancestors), and the confirms of
-- that minute by hold-to-confirm time (logarithmic buckets, see ConfirmTimes). Rows are summed by
-- upsert. A batch writes only rows of capacities it has locked, so two nodes never wait on one another
-- here that were not already waiting on the capacity.
CREATE TABLE sales_minutes (
    tenant_id   uuid NOT NULL,
    event_id    text NOT NULL,
    capacity_id uuid NOT NULL,
    minute      bigint NOT NULL,
    held        bigint NOT NULL,
    confirmed   bigint NOT NULL,
    released    bigint NOT NULL,
    expired     bigint NOT NULL,
    cancelled   bigint NOT NULL,
    reclaimed   bigint NOT NULL,
    PRIMARY KEY (tenant_id, event_id, minute, capacity_id)
);

CREATE TABLE confirm_times (
    tenant_id   uuid NOT NULL,
    event_id    text NOT NULL,
    capacity_id uuid NOT NULL,
    minute      bigint NOT NULL,
    bucket      integer NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (tenant_id, event_id, minute, capacity_id, bucket)
);

-- Holds from before this migration, each at the minute it reached its state: what they hold and have
-- sold adds up as it will for every later one (the audit checks it). Their confirm times are left out;
-- a cancelled sale's tickets are no longer in its items, so it adds nothing.
INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed)
SELECT r.tenant_id, c.event_id, c.id,
       COALESCE(r.confirmed_at, r.ended_at, r.created_at) / 60000 AS m,
       SUM((j ->> 'quantity')::bigint),
       SUM(CASE WHEN r.status = 1 THEN (j ->> 'quantity')::bigint ELSE 0 END),
       SUM(CASE WHEN r.status = 2 THEN (j ->> 'quantity')::bigint ELSE 0 END),
       SUM(CASE WHEN r.status = 3 THEN (j ->> 'quantity')::bigint ELSE 0 END),
       0, 0
FROM reservations r CROSS JOIN LATERAL jsonb_array_elements(r.items::jsonb) j
JOIN capacities c ON c.id = (j ->> 'capacity_id')::uuid
WHERE r.status IN (0, 1, 2, 3)
GROUP BY r.tenant_id, c.event_id, c.id, m;

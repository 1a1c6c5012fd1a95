-- The platform's own names for a hold (external_ref; metadata, a JSON object of strings kept as
-- text) and the event it is listed under: its first item's. A cart across events is also listed
-- under each other event through reservation_events, written only for such carts.
ALTER TABLE reservations ADD COLUMN event_id text;
ALTER TABLE reservations ADD COLUMN external_ref text;
ALTER TABLE reservations ADD COLUMN metadata text;
UPDATE reservations r SET event_id = c.event_id
    FROM capacities c WHERE c.id = ((r.items::jsonb) -> 0 ->> 'capacity_id')::uuid;

CREATE TABLE reservation_events (
    tenant_id       uuid NOT NULL,
    event_id        text NOT NULL,
    created_at      bigint NOT NULL,
    reservation_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, event_id, created_at, reservation_id)
);
INSERT INTO reservation_events (tenant_id, event_id, created_at, reservation_id)
    SELECT DISTINCT r.tenant_id, c.event_id, r.created_at, r.id
    FROM reservations r CROSS JOIN LATERAL jsonb_array_elements(r.items::jsonb) j
    JOIN capacities c ON c.id = (j ->> 'capacity_id')::uuid
    WHERE c.event_id <> r.event_id;

-- GET /reservations pages newest first by event, or by the platform's reference.
CREATE INDEX reservations_event ON reservations (tenant_id, event_id, created_at, id);
CREATE INDEX reservations_external_ref ON reservations (tenant_id, external_ref, created_at, id) WHERE external_ref IS NOT NULL;

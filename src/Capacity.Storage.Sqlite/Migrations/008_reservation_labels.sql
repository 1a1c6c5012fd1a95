-- The platform's own names for a hold (external_ref; metadata, a JSON object of strings) and the
-- event it is listed under: its first item's. A cart across events is also listed under each other
-- event through reservation_events, written only for such carts.
ALTER TABLE reservations ADD COLUMN event_id TEXT;
ALTER TABLE reservations ADD COLUMN external_ref TEXT;
ALTER TABLE reservations ADD COLUMN metadata TEXT;
UPDATE reservations SET event_id = (
    SELECT c.event_id FROM capacities c WHERE c.id = json_extract(reservations.items, '$[0].capacity_id'));

CREATE TABLE reservation_events (
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    reservation_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, created_at, reservation_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO reservation_events (tenant_id, event_id, created_at, reservation_id)
    SELECT r.tenant_id, c.event_id, r.created_at, r.id
    FROM reservations r, json_each(r.items) j JOIN capacities c ON c.id = json_extract(j.value, '$.capacity_id')
    WHERE c.event_id <> r.event_id;

-- GET /reservations pages newest first by event, or by the platform's reference.
CREATE INDEX reservations_event ON reservations (tenant_id, event_id, created_at, id);
CREATE INDEX reservations_external_ref ON reservations (tenant_id, external_ref, created_at, id) WHERE external_ref IS NOT NULL;

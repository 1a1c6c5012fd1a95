-- Waiting lists. An entry waits for units of one or more capacities of one event, offered
-- all-or-nothing in sequence order. status: 0 waiting, 1 offered, 2 accepted, 3 lapsed, 4 left.
-- items: "capacity_id:quantity" lines joined by ','. An offer is a reservation whose id is the
-- entry's own (offer_reservation_id) and whose waitlist_id names the entry. Entries change only
-- under the row locks of all their capacities, which every batch that walks the event's list takes.
CREATE TABLE waitlist_entries (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL,
    event_id              text NOT NULL,
    items                 text NOT NULL,
    capacity_ids          uuid[] NOT NULL,
    buyer_key             text,
    external_ref          text,
    sequence              bigint NOT NULL,
    status                smallint NOT NULL,
    offer_reservation_id  uuid,
    created_at            bigint NOT NULL,
    updated_at            bigint NOT NULL
);
CREATE INDEX waitlist_waiting ON waitlist_entries (tenant_id, event_id, sequence) WHERE status = 0;

CREATE TABLE waitlist_lines (
    capacity_id  uuid NOT NULL,
    sequence     bigint NOT NULL,
    entry_id     uuid NOT NULL,
    PRIMARY KEY (capacity_id, sequence, entry_id)
);

ALTER TABLE capacities ADD COLUMN waitlist text;
ALTER TABLE capacities ADD COLUMN waiting_units bigint NOT NULL DEFAULT 0;
ALTER TABLE capacities ADD COLUMN queue_demand bigint NOT NULL DEFAULT 0;
ALTER TABLE capacities ADD COLUMN offered_units bigint NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN waitlist_id uuid;

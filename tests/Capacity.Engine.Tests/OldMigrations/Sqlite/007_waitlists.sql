-- Waiting lists. An entry waits for units of one or more capacities of one event, offered
-- all-or-nothing in sequence order. status: 0 waiting, 1 offered, 2 accepted, 3 lapsed, 4 left.
-- items: "capacity_id:quantity" lines joined by ','. An offer is a reservation whose id is the
-- entry's own (offer_reservation_id) and whose waitlist_id names the entry.
CREATE TABLE waitlist_entries (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL,
    event_id              TEXT NOT NULL,
    items                 TEXT NOT NULL,
    buyer_key             TEXT,
    external_ref          TEXT,
    sequence              INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    offer_reservation_id  TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
-- The queue a batch walks: an event's waiting entries in order.
CREATE INDEX waitlist_waiting ON waitlist_entries (tenant_id, event_id, sequence) WHERE status = 0;

-- One row per line, never changed: a capacity's list in order, and an entry's place in it.
CREATE TABLE waitlist_lines (
    capacity_id  TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    entry_id     TEXT NOT NULL,
    PRIMARY KEY (capacity_id, sequence, entry_id)
) WITHOUT ROWID;

-- A capacity's list settings ("enabled:offer_minutes:policy", null when it never had one), the units
-- its own waiting entries want, the units waiting entries on it or below it are owed, and its units
-- in live offers.
ALTER TABLE capacities ADD COLUMN waitlist TEXT;
ALTER TABLE capacities ADD COLUMN waiting_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE capacities ADD COLUMN queue_demand INTEGER NOT NULL DEFAULT 0;
ALTER TABLE capacities ADD COLUMN offered_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN waitlist_id TEXT;

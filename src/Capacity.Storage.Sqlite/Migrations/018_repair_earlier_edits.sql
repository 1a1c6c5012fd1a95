-- rebuilds a table (capacities, only on a database whose 009 predates overbook_limit; see SqliteStore.MigrateAsync)
-- Four migrations were edited after their first release (007, 009, 010, 017), so a database that
-- ran one before its edit never got the rest: above all 010's sale_edge_at, without which every batch
-- that writes sale rules failed. This brings a database migrated by any earlier version to today's
-- schema, each step only where it is missing (SqliteStore.ConditionalParts: "-- when:" parts run only
-- when their query answers 1), so an up-to-date database comes out unchanged. It also repairs two
-- things older versions wrote: whole refunds that kept their quantities, and the sales 012 left out.

-- 010: the sale window's next edge, copied from the sale rules (edge_at) as every write does since.
-- when: SELECT NOT EXISTS (SELECT 1 FROM pragma_table_info('capacities') WHERE name = 'sale_edge_at')
ALTER TABLE capacities ADD COLUMN sale_edge_at INTEGER;
UPDATE capacities SET sale_edge_at = json_extract(sale, '$.edge_at') WHERE json_extract(sale, '$.edge_at') IS NOT NULL;
-- end when

-- 009: overbook_limit, and the table's check allowing total + allowance, by the rebuild today's 009
-- does, then 010's column as 010 adds it (a table's columns cannot follow its checks), so the table
-- reads as on a new database. The allowance was kept in the sale rules
-- before it had a column, and still is: the column copies it.
-- when: SELECT NOT EXISTS (SELECT 1 FROM pragma_table_info('capacities') WHERE name = 'overbook_limit')
CREATE TABLE capacities_018 (
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
ALTER TABLE capacities_018 ADD COLUMN sale_edge_at INTEGER;
INSERT INTO capacities_018 (id, tenant_id, event_id, schedule_id, section_name, section_code, total_capacity, parent_ids, is_active,
        reserved, sold, created_at, updated_at, allocations, limit_ids, waitlist, waiting_units, queue_demand, offered_units, sale,
        overbook_limit, sale_edge_at)
    SELECT id, tenant_id, event_id, schedule_id, section_name, section_code, total_capacity, parent_ids, is_active,
        reserved, sold, created_at, updated_at, allocations, limit_ids, waitlist, waiting_units, queue_demand, offered_units, sale,
        COALESCE(json_extract(sale, '$.overbook_limit'), 0), sale_edge_at
    FROM capacities;
DROP TABLE capacities;
ALTER TABLE capacities_018 RENAME TO capacities;
CREATE INDEX capacities_by_event ON capacities (tenant_id, event_id, created_at);
-- end when

-- 010's index (after the rebuild, which drops it) and 007's.
CREATE INDEX IF NOT EXISTS capacities_sale_edge ON capacities (sale_edge_at) WHERE sale_edge_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS waitlist_sequence ON waitlist_entries (tenant_id, event_id, sequence);

-- 017: the status index ends with the expiry and replaces 013's. Built again only where it lacks the
-- expiry: it reads every reservation (about 2 s a million).
DROP INDEX IF EXISTS reservations_event_live;
-- when: SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'reservations_event_status' AND sql NOT LIKE '%expires_at%')
DROP INDEX reservations_event_status;
CREATE INDEX reservations_event_status ON reservations (tenant_id, event_id, status, created_at, id, expires_at);
-- end when

-- Until 80aebc9 a sale refunded whole (cancel of a confirmed reservation) kept each item's quantity;
-- since, every unit moves to cancelled_quantity, as a refund in parts does (Decider's Refunded). A
-- cancelled reservation was always a confirmed one, so any unit still in its quantity is refunded.
UPDATE reservations SET items = (
    SELECT json_group_array(json(CASE WHEN json_extract(j.value, '$.quantity') > 0
        THEN json_set(j.value, '$.quantity', 0, '$.cancelled_quantity',
            json_extract(j.value, '$.quantity') + COALESCE(json_extract(j.value, '$.cancelled_quantity'), 0))
        ELSE j.value END) ORDER BY j.key)
    FROM json_each(reservations.items) j)
WHERE status = 4 AND EXISTS (SELECT 1 FROM json_each(reservations.items) j WHERE json_extract(j.value, '$.quantity') > 0);

-- 012 counted every hold already there in sales_minutes except the cancelled sales, whose tickets it
-- took to be gone from their items (they were not: see above). Those cancelled before 012 ran
-- (applied_at; the engine counted every later one) are counted now as the engine counts a sale and
-- its refund: held and confirmed at the minute of the confirm (where 012 put a confirmed sale) and
-- cancelled at the minute of the cancel, every unit the sale had (by now all in cancelled_quantity).
-- Each adds nothing to what its capacity holds or has sold, which is what the audit checks.
INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed)
SELECT tenant_id, event_id, capacity_id, minute, SUM(held), SUM(confirmed), 0, 0, SUM(cancelled), 0
FROM (
    SELECT r.tenant_id, c.event_id, c.id AS capacity_id, COALESCE(r.confirmed_at, r.ended_at) / 60000 AS minute,
           json_extract(j.value, '$.cancelled_quantity') AS held, json_extract(j.value, '$.cancelled_quantity') AS confirmed, 0 AS cancelled
    FROM reservations r, json_each(r.items) j JOIN capacities c ON c.id = json_extract(j.value, '$.capacity_id')
    WHERE r.status = 4 AND r.ended_at < (SELECT applied_at FROM schema_migrations WHERE version = 12)
    UNION ALL
    SELECT r.tenant_id, c.event_id, c.id, r.ended_at / 60000, 0, 0, json_extract(j.value, '$.cancelled_quantity')
    FROM reservations r, json_each(r.items) j JOIN capacities c ON c.id = json_extract(j.value, '$.capacity_id')
    WHERE r.status = 4 AND r.ended_at < (SELECT applied_at FROM schema_migrations WHERE version = 12)
)
WHERE held > 0 OR cancelled > 0
GROUP BY tenant_id, event_id, capacity_id, minute
ON CONFLICT (tenant_id, event_id, minute, capacity_id) DO UPDATE SET
    held = held + excluded.held, confirmed = confirmed + excluded.confirmed, cancelled = cancelled + excluded.cancelled;

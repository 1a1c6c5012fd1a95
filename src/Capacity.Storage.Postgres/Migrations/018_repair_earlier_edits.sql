-- Four migrations were edited after their first release (007, 009, 010, 017), so a database that
-- ran one before its edit never got the rest: above all 010's sale_edge_at, without which every batch
-- that writes sale rules failed. This brings a database migrated by any earlier version to today's
-- schema, each step only where it is missing, so an up-to-date database comes out unchanged. It also
-- repairs two things older versions wrote: whole refunds that kept their quantities, and the sales
-- 012 left out.

-- 010: the sale window's next edge, copied from the sale rules (edge_at) as every write does since.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'capacities' AND column_name = 'sale_edge_at') THEN
        ALTER TABLE capacities ADD COLUMN sale_edge_at bigint;
        UPDATE capacities SET sale_edge_at = (sale::jsonb ->> 'edge_at')::bigint WHERE sale::jsonb ->> 'edge_at' IS NOT NULL;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS capacities_sale_edge ON capacities (sale_edge_at) WHERE sale_edge_at IS NOT NULL;

-- 007: the last sequence an event gave.
CREATE INDEX IF NOT EXISTS waitlist_sequence ON waitlist_entries (tenant_id, event_id, sequence);

-- 009: overbook_limit, and the table's check allowing total + allowance in place of 001's. The
-- allowance was kept in the sale rules before it had a column, and still is: the column copies it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'capacities' AND column_name = 'overbook_limit') THEN
        ALTER TABLE capacities ADD COLUMN overbook_limit integer NOT NULL DEFAULT 0 CHECK (overbook_limit >= 0);
        UPDATE capacities SET overbook_limit = (sale::jsonb ->> 'overbook_limit')::integer WHERE sale::jsonb ->> 'overbook_limit' IS NOT NULL;
        ALTER TABLE capacities DROP CONSTRAINT IF EXISTS capacities_check;
        ALTER TABLE capacities ADD CONSTRAINT capacities_within_total CHECK (total_capacity IS NULL OR reserved + sold <= total_capacity + overbook_limit);
    END IF;
END $$;

-- 017: the status index ends with the expiry and replaces 013's. Built again only where it lacks the
-- expiry: it reads every reservation.
DROP INDEX IF EXISTS reservations_event_live;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'reservations_event_status'
               AND indexdef NOT LIKE '%expires_at%') THEN
        DROP INDEX reservations_event_status;
        CREATE INDEX reservations_event_status ON reservations (tenant_id, event_id, status, created_at, id, expires_at);
    END IF;
END $$;

-- Until 80aebc9 a sale refunded whole (cancel of a confirmed reservation) kept each item's quantity;
-- since, every unit moves to cancelled_quantity, as a refund in parts does (Decider's Refunded). A
-- cancelled reservation was always a confirmed one, so any unit still in its quantity is refunded.
UPDATE reservations r SET items = (
    SELECT jsonb_agg(CASE WHEN (j ->> 'quantity')::integer > 0
        THEN j || jsonb_build_object('quantity', 0, 'cancelled_quantity',
            (j ->> 'quantity')::integer + COALESCE((j ->> 'cancelled_quantity')::integer, 0))
        ELSE j END ORDER BY n)::text
    FROM jsonb_array_elements(r.items::jsonb) WITH ORDINALITY AS e (j, n))
WHERE r.status = 4 AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.items::jsonb) j WHERE (j ->> 'quantity')::integer > 0);

-- 012 counted every hold already there in sales_minutes except the cancelled sales, whose tickets it
-- took to be gone from their items (they were not: see above). Those cancelled before 012 ran
-- (applied_at; the engine counted every later one) are counted now as the engine counts a sale and
-- its refund: held and confirmed at the minute of the confirm (where 012 put a confirmed sale) and
-- cancelled at the minute of the cancel, every unit the sale had (by now all in cancelled_quantity).
-- Each adds nothing to what its capacity holds or has sold, which is what the audit checks.
INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed)
SELECT r.tenant_id, c.event_id, c.id, f.minute, SUM(f.held)::bigint, SUM(f.held)::bigint, 0, 0, SUM(f.cancelled)::bigint, 0
FROM reservations r CROSS JOIN LATERAL jsonb_array_elements(r.items::jsonb) j
JOIN capacities c ON c.id = (j ->> 'capacity_id')::uuid
CROSS JOIN LATERAL (VALUES
    (COALESCE(r.confirmed_at, r.ended_at) / 60000, (j ->> 'cancelled_quantity')::bigint, 0::bigint),
    (r.ended_at / 60000, 0::bigint, (j ->> 'cancelled_quantity')::bigint)) AS f (minute, held, cancelled)
WHERE r.status = 4 AND r.ended_at < (SELECT applied_at FROM schema_migrations WHERE version = 12)
    AND (f.held > 0 OR f.cancelled > 0)
GROUP BY r.tenant_id, c.event_id, c.id, f.minute
ON CONFLICT (tenant_id, event_id, minute, capacity_id) DO UPDATE SET
    held = sales_minutes.held + EXCLUDED.held, confirmed = sales_minutes.confirmed + EXCLUDED.confirmed,
    cancelled = sales_minutes.cancelled + EXCLUDED.cancelled;

-- A buyer's usage now counts the units its waiting-list entries still wait for, beside its live
-- holds and sales (an entry is a claim on tickets: a buyer queued for 4 under a limit of 4 may not
-- also hold 4 elsewhere). Joins, leaves, offers and lapses keep it so from now on; this adds the
-- entries already waiting. Into the rows, whether or not a limit covers the capacity: a buyer's usage
-- is its row plus its log, so a row is always a right place for a change.
WITH lines AS (
    SELECT e.tenant_id, e.buyer_key, split_part(l, ':', 1)::uuid AS capacity_id, split_part(l, ':', 2)::bigint AS quantity
    FROM waitlist_entries e, unnest(string_to_array(e.items, ',')) AS l
    WHERE e.status = 0 AND e.buyer_key IS NOT NULL),
sums AS (SELECT capacity_id, buyer_key, tenant_id, SUM(quantity)::bigint AS waiting FROM lines GROUP BY capacity_id, buyer_key, tenant_id)
INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used)
SELECT capacity_id, buyer_key, tenant_id, waiting FROM sums
ON CONFLICT (capacity_id, buyer_key) DO UPDATE SET used = buyer_usage.used + excluded.used;

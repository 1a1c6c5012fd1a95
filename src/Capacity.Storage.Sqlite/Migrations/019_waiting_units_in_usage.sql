-- A buyer's usage now counts the units its waiting-list entries still wait for, beside its live
-- holds and sales (an entry is a claim on tickets: a buyer queued for 4 under a limit of 4 may not
-- also hold 4 elsewhere). Joins, leaves, offers and lapses keep it so from now on; this adds the
-- entries already waiting. Into the rows, whether or not a limit covers the capacity: a buyer's usage
-- is its row plus its log, so a row is always a right place for a change. An entry's items are
-- "capacity_id:quantity" lines joined by ',' (ids and digits only), read here as a JSON array.
INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used)
SELECT substr(l.value, 1, instr(l.value, ':') - 1), e.buyer_key, e.tenant_id, SUM(CAST(substr(l.value, instr(l.value, ':') + 1) AS INTEGER))
FROM waitlist_entries e, json_each('["' || replace(e.items, ',', '","') || '"]') l
WHERE e.status = 0 AND e.buyer_key IS NOT NULL
GROUP BY 1, 2, 3
ON CONFLICT (capacity_id, buyer_key) DO UPDATE SET used = used + excluded.used;

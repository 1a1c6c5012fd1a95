-- The usage log is now also folded a slice at a time while the writer is idle (the oldest entries of
-- one capacity), so a buyer's part of a slice must be a prefix of its history: a release folded
-- before the hold it gives back would take a row below 0. PostgreSQL's rows have no insertion order
-- of their own, so each entry gets a number from a sequence when it is written (under the capacity's
-- lock, so in commit order within a capacity). The entries already here have none to go by: they are
-- folded whole first, which is always exact.
WITH folded AS (DELETE FROM buyer_usage_log RETURNING capacity_id, buyer_key, tenant_id, delta),
sums AS (SELECT capacity_id, buyer_key, tenant_id, SUM(delta)::bigint AS delta FROM folded GROUP BY capacity_id, buyer_key, tenant_id),
updated AS (UPDATE buyer_usage u SET used = u.used + s.delta FROM sums s WHERE u.capacity_id = s.capacity_id AND u.buyer_key = s.buyer_key RETURNING u.capacity_id, u.buyer_key)
INSERT INTO buyer_usage (capacity_id, buyer_key, tenant_id, used)
SELECT s.capacity_id, s.buyer_key, s.tenant_id, s.delta FROM sums s
WHERE s.delta <> 0 AND NOT EXISTS (SELECT 1 FROM updated x WHERE x.capacity_id = s.capacity_id AND x.buyer_key = s.buyer_key);

ALTER TABLE buyer_usage_log ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
DROP INDEX buyer_usage_log_by_capacity;
CREATE INDEX buyer_usage_log_by_capacity ON buyer_usage_log (capacity_id, seq);

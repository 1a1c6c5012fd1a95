-- A capacity's waiting entries now count as owed on it and on every pool above it only up to what
-- that capacity could still give them (its total and allowance less what is held and sold; all of
-- them on an unlimited capacity): a long queue on a small sold-out section no longer closes the
-- other sections of its venue. queue_demand is worked out again from waiting_units, the counters
-- and the parents; each capacity's share counts once on each node above it, however many paths
-- lead there (UNION drops the repeats).
WITH RECURSIVE share(source, node, units) AS (
    SELECT id, id, CASE WHEN total_capacity IS NULL THEN waiting_units
                        ELSE LEAST(waiting_units, GREATEST(0, total_capacity + overbook_limit - reserved - sold)) END
    FROM capacities WHERE waiting_units > 0
    UNION
    SELECT s.source, p.parent, s.units
    FROM share s JOIN capacities c ON c.id = s.node, unnest(c.parent_ids) AS p(parent)),
owed AS (SELECT node, SUM(units)::bigint AS units FROM share GROUP BY node)
UPDATE capacities c SET queue_demand = COALESCE(o.units, 0)
FROM capacities c2 LEFT JOIN owed o ON o.node = c2.id
WHERE c2.id = c.id AND c.queue_demand <> COALESCE(o.units, 0);

-- What is waited for on a capacity is now counted level by level: its own entries' units plus what
-- each capacity directly below it passes up, which is at most what that one could still give (all
-- of it from an unlimited one). Before, an unlimited ticket type's queue (or one on any capacity
-- with room) counted in full on every pool above it, even above a sold-out section pool that could
-- never give it a unit, and closed the rest of the venue. queue_demand now holds what is waited for
-- on the capacity itself, its own units included. Worked out from the leaves up, one pass per
-- level: sixteen passes, enough for capacities nested seventeen levels deep (the default allows
-- eight); a pass that changes nothing is cheap, since only capacities something waits on are read.
UPDATE capacities SET queue_demand = waiting_units WHERE queue_demand <> waiting_units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;
UPDATE capacities x SET queue_demand = x.waiting_units + p.units
FROM (SELECT parent AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE LEAST(c.queue_demand, GREATEST(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END)::bigint AS units
      FROM capacities c, unnest(c.parent_ids) AS parent WHERE c.queue_demand > 0 GROUP BY parent) p
WHERE p.id = x.id AND x.queue_demand <> x.waiting_units + p.units;

-- What is waited for on a capacity is now counted level by level: its own entries' units plus what
-- each capacity directly below it passes up, which is at most what that one could still give (all
-- of it from an unlimited one). Before, an unlimited ticket type's queue (or one on any capacity
-- with room) counted in full on every pool above it, even above a sold-out section pool that could
-- never give it a unit, and closed the rest of the venue. queue_demand now holds what is waited for
-- on the capacity itself, its own units included. Worked out from the leaves up (parent_ids, which
-- are comma-separated, read as a JSON array), one pass per level: sixteen passes, enough for
-- capacities nested seventeen levels deep (the default allows eight); a pass that changes nothing
-- is cheap, since only capacities something waits on are read.
UPDATE capacities SET queue_demand = waiting_units WHERE queue_demand <> waiting_units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;
UPDATE capacities SET queue_demand = capacities.waiting_units + p.units
FROM (SELECT j.value AS id, SUM(CASE WHEN c.total_capacity IS NULL THEN c.queue_demand
        ELSE MIN(c.queue_demand, MAX(0, c.total_capacity + c.overbook_limit - c.reserved - c.sold)) END) AS units
      FROM capacities c, json_each('["' || replace(c.parent_ids, ',', '","') || '"]') j
      WHERE c.queue_demand > 0 AND c.parent_ids <> '' GROUP BY j.value) AS p
WHERE p.id = capacities.id AND capacities.queue_demand <> capacities.waiting_units + p.units;

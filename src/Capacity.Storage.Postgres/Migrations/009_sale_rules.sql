-- A capacity's sale rules (window, the tier it opens after, close when sold out, overbooking) and
-- what became of them (tier opened, first sold out, closed by rule, the tiers that follow it), as one
-- JSON object kept as text in `sale`, null for nearly every capacity; and `overbook_limit` as a column
-- of its own, because the table's own check now allows reserved + sold up to total + allowance.
ALTER TABLE capacities ADD COLUMN sale text;
ALTER TABLE capacities ADD COLUMN overbook_limit integer NOT NULL DEFAULT 0 CHECK (overbook_limit >= 0);
ALTER TABLE capacities DROP CONSTRAINT capacities_check;
ALTER TABLE capacities ADD CONSTRAINT capacities_within_total CHECK (total_capacity IS NULL OR reserved + sold <= total_capacity + overbook_limit);

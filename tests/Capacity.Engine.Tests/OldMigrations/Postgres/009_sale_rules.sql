-- A capacity's sale rules (window, the tier it opens after, close when sold out, overbooking) and
-- what became of them (tier opened, first sold out, closed by rule, the tiers that follow it), as one
-- JSON object kept as text; null for a capacity without any, which is nearly every one.
ALTER TABLE capacities ADD COLUMN sale text;

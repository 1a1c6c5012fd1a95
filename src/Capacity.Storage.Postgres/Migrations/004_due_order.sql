-- The sweeper pages through due holds by (expires_at, id), so that it can look for the next page
-- while the engine expires the current one without being handed the same holds twice; the index
-- carries the id so that each page is a range read, not a sort of everything due.
DROP INDEX IF EXISTS reservations_due;
CREATE INDEX reservations_due ON reservations (expires_at, id) WHERE status = 0;

-- GET /reservations with a status: an event's reservations by status, then creation, so that a page
-- of one status is read from its own range (ReservationSearch). The index by event and creation
-- alone read the whole event to fill a page of a status it held few of. It replaces that index, so a
-- hold writes no more than before; a status change now moves the hold's entry within this one.
DROP INDEX IF EXISTS reservations_event;
CREATE INDEX reservations_event_status ON reservations (tenant_id, event_id, status, created_at, id);

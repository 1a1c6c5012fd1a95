-- GET /reservations with a status: an event's reservations by status, then creation, so that a page
-- of one status is read from its own range (ReservationSearch). The index by event and creation
-- alone read the whole event to fill a page of a status it held few of. The index ends with the
-- expiry, so it also gives an event's active holds, their count and the soonest to expire (the live
-- stream's snapshot, until now 013's index): it replaces both, and a hold writes one index entry
-- fewer than before. A status change or an extension moves the hold's entry within it.
DROP INDEX IF EXISTS reservations_event;
DROP INDEX IF EXISTS reservations_event_live;
CREATE INDEX reservations_event_status ON reservations (tenant_id, event_id, status, created_at, id, expires_at);

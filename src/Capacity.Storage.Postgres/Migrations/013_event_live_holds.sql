-- A live stream's snapshot counts the event's active holds and lists those that expire soonest. It
-- used to scan every active hold of the tenant and look inside each one's items, so its cost grew
-- with all the tenant's holds on every event; with this index it reads only the event's active holds
-- (the count from the index alone) and the soonest few in order. Carts that also reach other events
-- are found through reservation_events, as GET /reservations finds them.
CREATE INDEX reservations_event_live ON reservations (tenant_id, event_id, expires_at) WHERE status = 0;

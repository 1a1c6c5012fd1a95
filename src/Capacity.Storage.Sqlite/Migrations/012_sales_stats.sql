-- The organiser's figures (GET /events/{id}/stats), kept by the engine in the batch that moves the
-- tickets: per capacity and Unix minute, the tickets held, confirmed, released, expired, cancelled and
-- reclaimed (counted on the capacity a hold's item names, never on its ancestors), and the confirms of
-- that minute by hold-to-confirm time (logarithmic buckets, see ConfirmTimes). Rows are summed by
-- upsert; a range of a busy event reads a few thousand of them, however long its ledger.
CREATE TABLE sales_minutes (
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    capacity_id TEXT NOT NULL,
    minute      INTEGER NOT NULL,
    held        INTEGER NOT NULL,
    confirmed   INTEGER NOT NULL,
    released    INTEGER NOT NULL,
    expired     INTEGER NOT NULL,
    cancelled   INTEGER NOT NULL,
    reclaimed   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id, minute, capacity_id)
) WITHOUT ROWID;

CREATE TABLE confirm_times (
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    capacity_id TEXT NOT NULL,
    minute      INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id, minute, capacity_id, bucket)
) WITHOUT ROWID;

-- Holds from before this migration, each at the minute it reached its state: what they hold and have
-- sold adds up as it will for every later one (the audit checks it). Their confirm times are not known
-- in buckets here and are left out; a cancelled sale's tickets are no longer in its items, so it adds nothing.
INSERT INTO sales_minutes (tenant_id, event_id, capacity_id, minute, held, confirmed, released, expired, cancelled, reclaimed)
SELECT r.tenant_id, c.event_id, c.id,
       COALESCE(r.confirmed_at, r.ended_at, r.created_at) / 60000,
       SUM(json_extract(j.value, '$.quantity')),
       SUM(CASE WHEN r.status = 1 THEN json_extract(j.value, '$.quantity') ELSE 0 END),
       SUM(CASE WHEN r.status = 2 THEN json_extract(j.value, '$.quantity') ELSE 0 END),
       SUM(CASE WHEN r.status = 3 THEN json_extract(j.value, '$.quantity') ELSE 0 END),
       0, 0
FROM reservations r, json_each(r.items) j JOIN capacities c ON c.id = json_extract(j.value, '$.capacity_id')
WHERE r.status IN (0, 1, 2, 3)
GROUP BY r.tenant_id, c.event_id, c.id, COALESCE(r.confirmed_at, r.ended_at, r.created_at) / 60000;

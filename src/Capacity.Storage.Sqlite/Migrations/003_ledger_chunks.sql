-- The ledger moves from one row per entry to one row per event per batch (LedgerChunks in
-- Capacity.Engine). Each chunk's entries take the sequence numbers last_seq - count + 1 .. last_seq,
-- so every existing entry keeps its number: it becomes a chunk of one.
CREATE TABLE ledger_chunks (
    last_seq    INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    count       INTEGER NOT NULL CHECK (count > 0),
    entries     BLOB NOT NULL -- JSON, see LedgerChunks
);
CREATE INDEX ledger_chunks_by_event ON ledger_chunks (tenant_id, event_id, last_seq);

INSERT INTO ledger_chunks (last_seq, tenant_id, event_id, count, entries)
SELECT seq, tenant_id, event_id, 1,
       CAST(json_object('c', json_array(capacity_id),
                        'e', json_array(json_array(0, reservation_id, kind, reserved_delta, sold_delta, at))) AS BLOB)
FROM ledger ORDER BY seq;

DROP TABLE ledger;

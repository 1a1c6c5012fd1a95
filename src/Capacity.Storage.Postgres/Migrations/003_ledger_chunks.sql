-- The ledger moves from one row per entry to one row per event per batch (LedgerChunks in
-- Capacity.Engine). Each chunk's entries take the sequence numbers last_seq - count + 1 .. last_seq,
-- so every existing entry keeps its number: it becomes a chunk of one.
CREATE TABLE ledger_chunks (
    last_seq    bigint PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    event_id    text NOT NULL,
    count       integer NOT NULL CHECK (count > 0),
    entries     bytea NOT NULL -- JSON, see LedgerChunks
);
CREATE INDEX ledger_chunks_by_event ON ledger_chunks (tenant_id, event_id, last_seq);

INSERT INTO ledger_chunks (last_seq, tenant_id, event_id, count, entries)
SELECT seq, tenant_id, event_id, 1,
       convert_to(json_build_object('c', json_build_array(capacity_id),
                                    'e', json_build_array(json_build_array(0, reservation_id, kind, reserved_delta, sold_delta, at)))::text, 'UTF8')
FROM ledger;

-- Several nodes write chunks at once, so each takes a block of numbers from a sequence rather
-- than counting from the last chunk: nextval is the chunk's first number and a chunk never holds
-- more than LedgerChunks.MaxEntries (65,536) entries, well inside a block.
CREATE SEQUENCE ledger_blocks INCREMENT BY 1048576 MINVALUE 1;
SELECT setval('ledger_blocks', COALESCE((SELECT max(seq) FROM ledger), 0) + 1, false);

DROP TABLE ledger;

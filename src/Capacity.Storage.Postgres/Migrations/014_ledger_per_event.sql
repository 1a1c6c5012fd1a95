-- Ledger sequence numbers were global, one numbering for every tenant and event (blocks of the
-- ledger_blocks sequence), so the gaps between an event's numbers told how much other events, of any
-- tenant, had written in between. From here on each event (tenant and event id) numbers its own
-- entries 1, 2, 3... in commit order, with no gap (PostgresWriteTransaction.AddLedger). Existing
-- chunks keep their order: a chunk's new last_seq is the running sum of its event's counts, in the
-- order of the old numbers, so every entry keeps its place and the chunks still tile their numbers.
-- A cursor (after=) taken before this migration no longer points at the same entry.
--
-- A new table filled in order rather than an UPDATE of every row, which would leave a dead copy of
-- each chunk behind.
CREATE TABLE ledger_chunks_014 (
    tenant_id   uuid NOT NULL,
    event_id    text NOT NULL,
    last_seq    bigint NOT NULL,
    count       integer NOT NULL CHECK (count > 0),
    entries     bytea NOT NULL -- JSON, see LedgerChunks
);

INSERT INTO ledger_chunks_014 (tenant_id, event_id, last_seq, count, entries)
SELECT tenant_id, event_id, sum(count) OVER (PARTITION BY tenant_id, event_id ORDER BY last_seq), count, entries
FROM ledger_chunks ORDER BY last_seq;

DROP TABLE ledger_chunks;
ALTER TABLE ledger_chunks_014 RENAME TO ledger_chunks;

-- How a reader pages through an event, and how a writer finds the event's last number (max, one
-- descent); no two chunks of an event end on the same number.
ALTER TABLE ledger_chunks ADD CONSTRAINT ledger_chunks_pkey PRIMARY KEY (tenant_id, event_id, last_seq);

DROP SEQUENCE ledger_blocks;

-- Ledger sequence numbers were global, one numbering for every tenant and event, so the gaps between
-- an event's numbers told how much other events, of any tenant, had written in between. From here on
-- each event (tenant and event id) numbers its own entries 1, 2, 3... in commit order, with no gap.
-- Existing chunks keep their order: a chunk's new last_seq is the running sum of its event's counts,
-- in the order of the old numbers, so every entry keeps its place and the chunks still tile their
-- numbers. A cursor (after=) taken before this migration no longer points at the same entry.
--
-- Still a rowid table with a separate index, not WITHOUT ROWID keyed by event: a chunk can be large (a
-- batch's entries for an event), and a WITHOUT ROWID table keeps whole rows in its interior pages.
CREATE TABLE ledger_chunks_014 (
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    last_seq    INTEGER NOT NULL,
    count       INTEGER NOT NULL CHECK (count > 0),
    entries     BLOB NOT NULL -- JSON, see LedgerChunks
);

INSERT INTO ledger_chunks_014 (tenant_id, event_id, last_seq, count, entries)
SELECT tenant_id, event_id, SUM(count) OVER (PARTITION BY tenant_id, event_id ORDER BY last_seq), count, entries
FROM ledger_chunks ORDER BY last_seq;

DROP TABLE ledger_chunks;
ALTER TABLE ledger_chunks_014 RENAME TO ledger_chunks;

-- How a reader pages through an event, and how the writer finds the event's last number (MAX, one
-- descent). Unique: no two chunks of an event end on the same number.
CREATE UNIQUE INDEX ledger_chunks_by_event ON ledger_chunks (tenant_id, event_id, last_seq);

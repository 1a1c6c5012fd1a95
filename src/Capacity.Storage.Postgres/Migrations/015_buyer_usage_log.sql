-- A hold naming a buyer on a capacity no limit covers used to add its tickets to the buyer's row in
-- buyer_usage, which sits where the buyer's key sorts: with keys as platforms send them (hashes) that
-- is a page of its own for nearly every hold of a batch. Such changes are appended here instead, and
-- folded into buyer_usage by the batch that creates a limit over the capacity (under the capacity's
-- lock, which every batch that appends here holds too). A buyer's usage is its row plus its entries
-- here; a capacity a limit covers has no entries here.
CREATE TABLE buyer_usage_log (
    capacity_id  uuid NOT NULL,
    buyer_key    text NOT NULL,
    tenant_id    uuid NOT NULL,
    delta        bigint NOT NULL
);
CREATE INDEX buyer_usage_log_by_capacity ON buyer_usage_log (capacity_id);

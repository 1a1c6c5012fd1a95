-- Why a waiting-list entry lapsed, once it did: 0 its offer expired, 1 its offer was released, 2 a
-- smaller pool left it too large, 3 a sale window it reaches ended. Null for the entries that lapsed
-- before this column (nothing kept the reason) and for every entry that did not lapse.
ALTER TABLE waitlist_entries ADD COLUMN lapsed_reason smallint;

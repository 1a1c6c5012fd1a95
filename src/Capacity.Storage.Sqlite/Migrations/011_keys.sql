-- Keys that can be listed, named, scoped, expired and revoked, and tenants that can be disabled.
-- A key gets an id (what the admin routes name it by; the hash stays the primary key, which is what a
-- request is looked up by), the first characters of its text so a person can tell keys apart (null for
-- keys issued before this, whose text was never kept), an optional name, its scope (0 read, 1 write,
-- 2 elevated; every key issued before this could write), an optional expiry, when it was revoked, and
-- when it was last seen in use (updated about once a minute, not per request). Times are Unix ms.
ALTER TABLE api_keys ADD COLUMN id TEXT;
ALTER TABLE api_keys ADD COLUMN prefix TEXT;
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN scope INTEGER NOT NULL DEFAULT 1 CHECK (scope IN (0, 1, 2));
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- Existing keys get random ids, as lower-case GUID text like every id here. randomblob is evaluated
-- once per row of the subquery, so each key gets its own.
UPDATE api_keys SET id = r.id
FROM (
    SELECT key_hash AS k, lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12)) AS id
    FROM (SELECT key_hash, hex(randomblob(16)) AS h FROM api_keys)
) AS r
WHERE api_keys.key_hash = r.k;

CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

-- Set while the tenant is disabled: every credential of it is refused.
ALTER TABLE tenants ADD COLUMN disabled_at INTEGER;

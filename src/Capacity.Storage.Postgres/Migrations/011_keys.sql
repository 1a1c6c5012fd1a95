-- Keys that can be listed, named, scoped, expired and revoked, and tenants that can be disabled.
-- A key gets an id (what the admin routes name it by; the hash stays the primary key, which is what a
-- request is looked up by), the first characters of its text so a person can tell keys apart (null for
-- keys issued before this, whose text was never kept), an optional name, its scope (0 read, 1 write,
-- 2 elevated; every key issued before this could write), an optional expiry, when it was revoked, and
-- when it was last seen in use (updated about once a minute, not per request). Times are Unix ms.
ALTER TABLE api_keys ADD COLUMN id uuid;
UPDATE api_keys SET id = gen_random_uuid();
ALTER TABLE api_keys ALTER COLUMN id SET NOT NULL;
ALTER TABLE api_keys ADD COLUMN prefix text;
ALTER TABLE api_keys ADD COLUMN name text;
ALTER TABLE api_keys ADD COLUMN scope smallint NOT NULL DEFAULT 1 CHECK (scope IN (0, 1, 2));
ALTER TABLE api_keys ADD COLUMN expires_at bigint;
ALTER TABLE api_keys ADD COLUMN revoked_at bigint;
ALTER TABLE api_keys ADD COLUMN last_used_at bigint;
CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

-- Set while the tenant is disabled: every credential of it is refused.
ALTER TABLE tenants ADD COLUMN disabled_at bigint;

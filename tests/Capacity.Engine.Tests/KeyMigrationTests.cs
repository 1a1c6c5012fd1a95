using System.Security.Cryptography;
using System.Text;
using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

public sealed class KeyMigrationTests_on_sqlite() : KeyMigrationTests(StoreKind.Sqlite);

public sealed class KeyMigrationTests_on_postgres() : KeyMigrationTests(StoreKind.Postgres);

/// <summary>What migration 011 makes of keys issued before it: each its own id, the write scope, no prefix, still found by its hash.</summary>
public abstract class KeyMigrationTests(StoreKind kind)
{
    [Fact]
    public async Task Migration_011_gives_keys_issued_before_it_ids_of_their_own_and_the_write_scope_and_they_are_still_found()
    {
        var location = await EngineHarness.NewLocationAsync(kind);
        var before = await EngineHarness.OpenExistingAsync(kind, location);
        await before.Engine.DisposeAsync();
        await before.Store.DisposeAsync();

        // Back to the schema as it was before 011, with a tenant and two keys of the old shape.
        var tenant = Guid.CreateVersion7();
        var hashes = new[] { SHA256.HashData(Encoding.UTF8.GetBytes("cap_one")), SHA256.HashData(Encoding.UTF8.GetBytes("cap_two")) };
        var (id, hash) = kind == StoreKind.Sqlite ? ($"'{tenant}'", "X'{0}'") : ($"'{tenant}'::uuid", "'\\x{0}'::bytea");
        await RunAsync(location,
            "DROP INDEX api_keys_by_id; DROP INDEX api_keys_by_tenant; "
            + string.Concat(new[] { "id", "prefix", "name", "scope", "expires_at", "revoked_at", "last_used_at" }.Select(c => $"ALTER TABLE api_keys DROP COLUMN {c}; "))
            + "ALTER TABLE tenants DROP COLUMN disabled_at; DELETE FROM schema_migrations WHERE version = 11; "
            + $"INSERT INTO tenants (id, name, created_at) VALUES ({id}, 'Old', 1700000000000); "
            + string.Concat(hashes.Select(h => $"INSERT INTO api_keys (key_hash, tenant_id, created_at) VALUES ({string.Format(null, hash, Convert.ToHexString(h))}, {id}, 1700000000000); ")));

        await using var after = await EngineHarness.OpenExistingAsync(kind, location);
        Assert.True(await after.Store.IsReadyAsync(CancellationToken.None));
        var found = await Task.WhenAll(hashes.Select(h => after.Store.FindApiKeyAsync(h, CancellationToken.None)));
        Assert.All(found, f => Assert.Equal((tenant, KeyScope.Write, null, null, null, false), (f!.Key.TenantId, f.Key.Scope, f.Key.Prefix, f.Key.RevokedAt, f.Key.ExpiresAt, f.TenantDisabled)));
        Assert.NotEqual(found[0]!.Key.Id, found[1]!.Key.Id);
        Assert.All(found, f => Assert.NotEqual(Guid.Empty, f!.Key.Id));
        Assert.Equal(found.Select(f => f!.Key.Id).Order(), (await after.Store.GetApiKeysAsync(tenant, CancellationToken.None)).Select(k => k.Id).Order());
        Assert.Null((await after.Store.GetTenantAsync(tenant, CancellationToken.None))!.DisabledAt);

        // And they can be revoked by those ids.
        Assert.Equal(OutcomeCode.Ok, (await after.Engine.SubmitAsync(new RevokeApiKey(tenant, found[0]!.Key.Id))).Outcome?.Code);
        Assert.NotNull((await after.Store.FindApiKeyAsync(hashes[0], CancellationToken.None))!.Key.RevokedAt);
        Assert.Null((await after.Store.FindApiKeyAsync(hashes[1], CancellationToken.None))!.Key.RevokedAt);
    }

    private async Task RunAsync(string location, string sql)
    {
        if (kind == StoreKind.Sqlite)
        {
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False");
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            await cmd.ExecuteNonQueryAsync();
        }
        else
        {
            await using var c = new Npgsql.NpgsqlConnection(location);
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

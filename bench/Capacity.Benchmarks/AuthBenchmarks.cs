using BenchmarkDotNet.Attributes;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capacity.Benchmarks;

/// <summary>
/// What authenticating a tenant key costs (<see cref="Authenticator.IdentifyAsync"/>), on a real SQLite
/// store. The baseline is the hot path: a key this process remembers, found by its text and used as last
/// read. Against it: the same key when its remembered answer is stale (every 2 s per key, or after this
/// node revoked a key), which reads the store once; and a key nobody issued, which is hashed and looked
/// up every time (and is what <see cref="AuthFailures"/> stops looking up past its budget).
/// </summary>
[MemoryDiagnoser]
public class AuthBenchmarks
{
    private const string Header = "Bearer ";

    private string _folder = "";
    private SqliteStore _store = null!;
    private Authenticator _auth = null!;
    private string _known = "";
    private string _unknown = "";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "capacity-bdn-" + Guid.NewGuid().ToString("N")[..12]);
        _store = new SqliteStore(Path.Combine(_folder, "capacity.db"));
        await _store.MigrateAsync(CancellationToken.None);
        var key = Authenticator.NewKey(Authenticator.TenantKeyPrefix);
        await using (var engine = new CommandEngine(_store, TimeProvider.System, CoreLimits.Default, new EngineOptions(), NullLogger<CommandEngine>.Instance))
        {
            var created = await engine.SubmitAsync(new CreateTenant(Guid.CreateVersion7(), "Bench", new NewApiKey(Guid.CreateVersion7(), Authenticator.Hash(key), Authenticator.ShownPrefix(key))));
            if (created.Outcome?.Code != OutcomeCode.Ok)
            {
                throw new InvalidOperationException($"The tenant was not created: {created.Status}.");
            }
        }

        var options = new AuthOptions();
        _auth = new Authenticator(_store, TimeProvider.System, new AuthFailures(options, TimeProvider.System, NullLogger<AuthFailures>.Instance), "capadmin_bench-admin-key", options);
        _known = Header + key;
        _unknown = Header + Authenticator.NewKey(Authenticator.TenantKeyPrefix);
        if ((await _auth.IdentifyAsync(_known, null, CancellationToken.None)).Kind != Authenticator.Kind.Tenant)
        {
            throw new InvalidOperationException("The key did not authenticate.");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The hot path: no hash, no store read, nothing allocated.</summary>
    [Benchmark(Baseline = true)]
    public int Remembered_key() => (int)_auth.IdentifyAsync(_known, null, CancellationToken.None).Result.Kind;

    /// <summary>What one request per key pays every 2 seconds (and each key's next request after a revocation on this node).</summary>
    [Benchmark]
    public async Task<int> Remembered_key_read_again()
    {
        _auth.CredentialsChanged();
        return (int)(await _auth.IdentifyAsync(_known, null, CancellationToken.None)).Kind;
    }

    [Benchmark]
    public async Task<int> Unknown_key() => (int)(await _auth.IdentifyAsync(_unknown, null, CancellationToken.None)).Kind;
}

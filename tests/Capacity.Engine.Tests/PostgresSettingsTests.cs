using Capacity.Storage.Postgres;
using Capacity.Testing;
using Npgsql;

namespace Capacity.Engine.Tests;

/// <summary>What the PostgreSQL store adds to the connection string it is given, and what it leaves alone.</summary>
public sealed class PostgresSettingsTests
{
    [Fact]
    public void A_plain_connection_string_gets_the_stores_timeouts_session_settings_and_prepared_statements()
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresStore.WithDefaults("Host=127.0.0.1;Username=capacity;Database=capacity"));

        Assert.Equal(3, settings.Timeout);
        Assert.Equal(10, settings.CommandTimeout);
        Assert.Contains("-c lock_timeout=5s", settings.Options, StringComparison.Ordinal);
        Assert.Contains("-c jit=off", settings.Options, StringComparison.Ordinal);
        Assert.Equal(64, settings.MaxAutoPrepare);
        Assert.Equal(2, settings.AutoPrepareMinUsages);
    }

    [Fact]
    public void A_setting_named_in_another_case_is_kept()
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresStore.WithDefaults("Host=127.0.0.1;timeout=7;COMMAND TIMEOUT=20;max auto prepare=0"));

        Assert.Equal(7, settings.Timeout);
        Assert.Equal(20, settings.CommandTimeout);
        Assert.Equal(0, settings.MaxAutoPrepare);
    }

    [Fact]
    public void A_connection_string_that_names_a_setting_keeps_its_own()
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresStore.WithDefaults(
            "Host=127.0.0.1;Timeout=5;Command Timeout=30;Max Auto Prepare=0;Auto Prepare Min Usages=5;Options=-c lock_timeout=1s -c jit=on"));

        Assert.Equal(5, settings.Timeout);
        Assert.Equal(30, settings.CommandTimeout);
        Assert.Equal("-c lock_timeout=1s -c jit=on", settings.Options);
        Assert.Equal(0, settings.MaxAutoPrepare);
        Assert.Equal(5, settings.AutoPrepareMinUsages);
    }

    [Fact]
    public void The_writers_sessions_plan_prepared_statements_once_and_without_scans_unless_the_string_says_otherwise()
    {
        var plain = PostgresStore.WithDefaults("Host=127.0.0.1;Username=capacity;Database=capacity");
        var writer = new NpgsqlConnectionStringBuilder(PostgresStore.ForWriter(plain));
        var named = new NpgsqlConnectionStringBuilder(PostgresStore.ForWriter(PostgresStore.WithDefaults("Host=127.0.0.1;Options=-c plan_cache_mode=auto -c enable_seqscan=on")));

        Assert.DoesNotContain("plan_cache_mode", new NpgsqlConnectionStringBuilder(plain).Options, StringComparison.Ordinal);
        Assert.Contains("-c plan_cache_mode=force_generic_plan", writer.Options, StringComparison.Ordinal);
        Assert.Contains("-c enable_seqscan=off", writer.Options, StringComparison.Ordinal);
        Assert.Contains("-c lock_timeout=5s", writer.Options, StringComparison.Ordinal);
        Assert.Equal(64, writer.MaxAutoPrepare);
        Assert.Equal("-c plan_cache_mode=auto -c enable_seqscan=on -c lock_timeout=5s -c jit=off", named.Options);
    }

    [Fact]
    public async Task A_session_opened_with_the_writers_string_runs_with_generic_plans_and_a_readers_does_not()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var reader = PostgresStore.WithDefaults(schema);

        Assert.Equal("force_generic_plan", await ShowAsync(PostgresStore.ForWriter(reader), "plan_cache_mode"));
        Assert.Equal("off", await ShowAsync(PostgresStore.ForWriter(reader), "enable_seqscan"));
        Assert.Equal("5s", await ShowAsync(PostgresStore.ForWriter(reader), "lock_timeout"));
        Assert.Equal("auto", await ShowAsync(reader, "plan_cache_mode"));
        Assert.Equal("on", await ShowAsync(reader, "enable_seqscan"));
    }

    /// <remarks>
    /// docs/operations.md promises a 503 within about three seconds when the database cannot give a
    /// connection. Npgsql's <c>Timeout</c> bounds the wait for a pooled connection as well as the
    /// connect; with every connection of a pool in use, the next open must fail near the default's 3 s
    /// rather than hang for Npgsql's own 15 s.
    /// </remarks>
    [Fact]
    public async Task With_every_pooled_connection_in_use_the_next_open_fails_within_the_default_timeout()
    {
        var schema = await (await PostgresServer.SharedAsync()).NewSchemaAsync();
        var settings = new NpgsqlConnectionStringBuilder(PostgresStore.WithDefaults(schema)) { MaxPoolSize = 1 };
        await using var source = NpgsqlDataSource.Create(settings.ConnectionString);
        await using var busy = await source.OpenConnectionAsync();

        var waited = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await source.OpenConnectionAsync());
        waited.Stop();

        Assert.InRange(waited.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(10));
    }

    private static async Task<string?> ShowAsync(string connectionString, string setting)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var show = new NpgsqlCommand($"SHOW {setting}", connection);
        return (string?)await show.ExecuteScalarAsync();
    }
}

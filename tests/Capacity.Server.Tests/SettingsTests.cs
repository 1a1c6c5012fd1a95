using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;

namespace Capacity.Server.Tests;

/// <summary>
/// Settings are checked at start: unknown keys are refused with the nearest known name, values with
/// their rule; the known keys are the options classes' own, and the README's table lists exactly them.
/// </summary>
public sealed class SettingsTests
{
    private static Settings Read(params (string Key, string Value)[] values) =>
        Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build());

    private static string Refusal(params (string Key, string Value)[] values)
    {
        var failure = Assert.Throws<StartupFailure>(() => Read(values));
        Assert.Equal(StartupFailure.BadConfiguration, failure.ExitCode);
        Assert.DoesNotContain('\n', failure.Message);
        return failure.Message;
    }

    [Fact]
    public void No_settings_at_all_read_as_the_documented_defaults()
    {
        var settings = Read();
        Assert.Equal("sqlite", settings.Storage.Provider);
        Assert.Equal(15, settings.Limits.DefaultHoldMinutes);
        Assert.Equal(1000, settings.Engine.MaxBatch);
        Assert.Null(settings.Auth.JwtSigningKey);
    }

    [Theory]
    [InlineData("Storage:Providr", "Storage:Provider")]
    [InlineData("Storage:Provider:Name", "Storage:Provider")]
    [InlineData("Storage:Sqlite:File", "Storage:Sqlite:Path")]
    [InlineData("Storage:Postgres:Connection", "Storage:Postgres:ConnectionString")]
    [InlineData("Auth:JwtKey", "Auth:JwtSigningKey")]
    [InlineData("Capacity:Limits:DefaultHoldMins", "Capacity:Limits:DefaultHoldMinutes")]
    [InlineData("Capacity:Limitz:MaxHoldMinutes", "Capacity:Limits:MaxHoldMinutes")]
    [InlineData("Capacity:SweepInterval", "Capacity:SweepIntervalMs")]
    [InlineData("Capacity:RateLimits:Burst", "Capacity:RateLimit:Burst")]
    [InlineData("Capacity:Engine:MaxBach", "Capacity:Engine:MaxBatch")]
    [InlineData("Capacity:Limits:MaxHold", "Capacity:Limits:MaxHoldMinutes")]
    [InlineData("Capacity:MaxBody", "Capacity:MaxBodyBytes")]
    public void An_unknown_key_is_refused_with_the_nearest_known_name(string typo, string nearest)
    {
        var message = Refusal((typo, "1"));
        Assert.StartsWith($"{typo} is not a setting; did you mean {nearest}?", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_are_matched_without_regard_to_case_as_configuration_does()
    {
        Assert.Equal(30, Read(("capacity:limits:defaultholdminutes", "30")).Limits.DefaultHoldMinutes);
    }

    [Fact]
    public void Keys_outside_the_servers_own_sections_are_left_alone()
    {
        Read(("Logging:LogLevel:Default", "Debug"), ("Kestrel:Limits:MaxConcurrentConnections", "10"), ("urls", "http://x"));
    }

    [Theory]
    [InlineData("Capacity:Limits:DefaultHoldMinutes", "0", "Capacity:Limits:DefaultHoldMinutes is 0, but it must be at least 1 and at most Capacity:Limits:MaxHoldMinutes (120).")]
    [InlineData("Capacity:Limits:MaxHoldMinutes", "600", "Capacity:Limits:MaxHoldMinutes is 600, but it must be at least 1 and at most Capacity:Limits:MaxLifetimeMinutes (120).")]
    [InlineData("Capacity:Limits:DefaultOfferMinutes", "121", "Capacity:Limits:DefaultOfferMinutes is 121, but it must be at least 1 and at most Capacity:Limits:MaxOfferMinutes (120).")]
    [InlineData("Capacity:MaxPageSize", "0", "Capacity:MaxPageSize is 0, but it must be at least 1.")]
    [InlineData("Capacity:Engine:QueueLimit", "-5", "Capacity:Engine:QueueLimit is -5, but it must be at least 1.")]
    [InlineData("Capacity:Engine:WriterNice", "-21", "Capacity:Engine:WriterNice is -21, but it must be between -20 and 19.")]
    [InlineData("Capacity:Quotas:HeavyReadsPerTenant", "0", "Capacity:Quotas:HeavyReadsPerTenant is 0, but it must be at least 1.")]
    [InlineData("Capacity:Quotas:StreamBytesPerSecondPerTenant", "-1", "Capacity:Quotas:StreamBytesPerSecondPerTenant is -1, but it must be 0 (no bound) or more.")]
    [InlineData("Capacity:RateLimit:PermitsPerSecond", "-1", "Capacity:RateLimit:PermitsPerSecond is -1, but it must be 0 (no limit) or more.")]
    [InlineData("Storage:Sqlite:UsageIdleMinutes", "-1", "Storage:Sqlite:UsageIdleMinutes is -1, but it must be 0 (kept for as long as the server runs) or more.")]
    [InlineData("Capacity:UsageFoldSlice", "-1", "Capacity:UsageFoldSlice is -1, but it must be 0 (no folds while idle) or more.")]
    [InlineData("Capacity:Limits:MaxPrice", "0", "Capacity:Limits:MaxPrice is 0, but it must be more than 0.")]
    [InlineData("Capacity:OtlpEndpoint", "collector:4318", "Capacity:OtlpEndpoint is collector:4318, but it must be an absolute http or https address, such as http://collector:4318.")]
    public void A_value_out_of_range_is_refused_with_its_rule(string key, string value, string message)
    {
        Assert.Equal(message, Refusal((key, value)));
    }

    [Fact]
    public void A_default_that_another_setting_puts_out_of_range_is_named_with_its_rule()
    {
        Assert.Equal(
            "Capacity:Limits:DefaultHoldMinutes is unset (the default), but it must be at least 1 and at most Capacity:Limits:MaxHoldMinutes (10).",
            Refusal(("Capacity:Limits:MaxHoldMinutes", "10")));
    }

    [Fact]
    public void A_jwt_signing_key_under_32_bytes_is_refused_without_printing_it()
    {
        var message = Refusal(("Auth:JwtSigningKey", "only-twenty-bytes!!!"));
        Assert.StartsWith("Auth:JwtSigningKey is 20 bytes long, but it must be at least 32 bytes", message, StringComparison.Ordinal);
        Assert.DoesNotContain("only-twenty", message, StringComparison.Ordinal);
        Assert.Equal(CapacityApp.JwtKey, Read(("Auth:JwtSigningKey", CapacityApp.JwtKey)).Auth.JwtSigningKey);
    }

    [Fact]
    public void A_short_admin_key_is_refused_without_printing_it()
    {
        var message = Refusal(("Auth:AdminKey", "secret"));
        Assert.Equal("Auth:AdminKey is 6 characters long, but it must be at least 16 characters, or unset to have one generated in the data directory.", message);
    }

    [Theory]
    [InlineData("Capacity:SweepIntervalMs", "fast", "a whole number")]
    [InlineData("Capacity:MaxBodyBytes", "64k", "a whole number")]
    [InlineData("Capacity:Limits:MaxPrice", "lots", "a number")]
    [InlineData("Capacity:Engine:Batching", "yes", "true or false")]
    public void A_value_that_does_not_parse_is_refused_with_what_it_must_be(string key, string value, string expected)
    {
        Assert.Equal($"{key} is '{value}', which is not {expected}; set it to {expected} or remove it to use the default.", Refusal((key, value)));
    }

    [Fact]
    public async Task The_SQLite_store_keeps_buyers_usage_in_memory_for_the_minutes_set_thirty_by_default()
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-settings-tests", Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var (setting, expected) in new[] { ((string?)null, 30), ("5", 5), ("0", 0) })
            {
                var values = setting is null ? [("Storage:DataDirectory", directory)] : new[] { ("Storage:DataDirectory", directory), ("Storage:Sqlite:UsageIdleMinutes", setting) };
                await using var store = (Capacity.Storage.Sqlite.SqliteStore)StoreSettings.From(Read(values).Storage).Open(TimeProvider.System);
                Assert.Equal(TimeSpan.FromMinutes(expected), store.UsageIdle);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_known_keys_are_every_settable_property_of_the_bound_options_classes()
    {
        var keys = Settings.KnownKeys.Select(k => k.Key).ToList();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Contains("Storage:Sqlite:Path", keys);
        Assert.Contains("Capacity:Limits:MaxExternalRefLength", keys);
        Assert.Contains("Capacity:RateLimit:Burst", keys);
        Assert.Contains("Capacity:Engine:EarlyRefusals", keys);

        // Computed properties are not settings.
        Assert.DoesNotContain("Capacity:StreamHeartbeat", keys);
        Assert.DoesNotContain("Capacity:Limits:Default", keys);
    }

    [Fact]
    public void The_readme_configuration_table_lists_every_setting_once_with_its_default()
    {
        var rows = ReadmeConfigurationRows();
        Assert.Equal(rows.Count, rows.Select(r => r.Key).Distinct().Count());
        Assert.Equal(Settings.KnownKeys.Select(k => k.Key).Order(), rows.Select(r => r.Key).Order());

        // Where the table gives a literal default (a number, true or false, or one `word`), it is the bound one.
        var defaults = Read();
        foreach (var (key, cell) in rows)
        {
            var actual = Convert.ToString(Value(defaults, key), CultureInfo.InvariantCulture);
            var literal = cell.Trim('`');
            var isLiteral = decimal.TryParse(literal, NumberStyles.Number, CultureInfo.InvariantCulture, out _) || literal is "true" or "false" || (cell.StartsWith('`') && !literal.Contains(' ', StringComparison.Ordinal));
            if (isLiteral)
            {
                Assert.True(string.Equals(literal, actual, StringComparison.OrdinalIgnoreCase), $"README says {key} defaults to {cell}; the server's default is {actual}");
            }
        }
    }

    [Fact]
    public void The_appsettings_file_that_ships_with_the_server_passes_the_check()
    {
        var file = Path.Combine(SourceRoot(), "src", "Capacity.Server", "appsettings.json");
        Settings.Read(new ConfigurationBuilder().AddJsonFile(file).Build());
    }

    /// <summary>The value a bound <see cref="Settings"/> holds for a key, found by walking its properties.</summary>
    private static object? Value(Settings settings, string key)
    {
        var parts = key.Split(':');
        (object target, int next) = parts switch
        {
            ["Storage", ..] => ((object)settings.Storage, 1),
            ["Auth", ..] => (settings.Auth, 1),
            ["Capacity", "Limits", _] => (settings.Limits, 2),
            ["Capacity", "Engine", _] => (settings.Engine, 2),
            ["Capacity", "RateLimit", _] => (settings.RateLimit, 2),
            ["Capacity", "Quotas", _] => (settings.Quotas, 2),
            ["Capacity", "Webhooks", _] => (settings.Webhooks, 2),
            ["Metrics", _] => (settings.Metrics, 1),
            _ => (settings.Server, 1),
        };
        object? value = target;
        foreach (var part in parts[next..])
        {
            value = value!.GetType().GetProperty(part, BindingFlags.Public | BindingFlags.Instance)!.GetValue(value);
        }

        return value;
    }

    private static List<(string Key, string Default)> ReadmeConfigurationRows()
    {
        var readme = File.ReadAllText(Path.Combine(SourceRoot(), "README.md"));
        var start = readme.IndexOf("\n## Configuration\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no Configuration section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return readme[start..end].Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .Select(line => line.Split('|', StringSplitOptions.TrimEntries))
            .Select(cells => (cells[1].Trim('`'), cells[2]))
            .ToList();
    }

    private static string SourceRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}

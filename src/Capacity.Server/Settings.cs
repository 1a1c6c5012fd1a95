using System.Globalization;
using System.Reflection;
using System.Text;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Metrics;
using Capacity.Server.Webhooks;

namespace Capacity.Server;

/// <summary>
/// Every setting the server reads under <c>Storage</c>, <c>Auth</c>, <c>Capacity</c> and <c>Metrics</c>, bound once at
/// start and checked before anything opens: a key no options class has (a typo such as
/// <c>Storage:Providr</c>, which would otherwise be ignored in silence) is refused with the nearest
/// known name, a value of the wrong type or outside its rule is refused with the rule. The known keys
/// are read from the options classes themselves (<see cref="Sections"/>), so the list cannot drift from
/// what is bound; the README's table is tested against it.
/// </summary>
internal sealed partial record Settings(
    StorageOptions Storage, AuthOptions Auth, ServerOptions Server, CoreLimits Limits, EngineOptions Engine, RateLimitOptions RateLimit, WebhookOptions Webhooks, MetricsOptions Metrics,
    QuotaOptions Quotas)
{
    /// <summary>The sections the server owns; any key under them must be one of <see cref="KnownKeys"/>.</summary>
    public static readonly string[] Roots = ["Storage", "Auth", "Capacity", "Metrics"];

    /// <summary>Each section and the options class bound from it: the one list of what the server reads.</summary>
    private static readonly (string Section, Type Options)[] Sections =
    [
        ("Storage", typeof(StorageOptions)),
        ("Auth", typeof(AuthOptions)),
        ("Capacity", typeof(ServerOptions)),
        ("Capacity:Limits", typeof(CoreLimits)),
        ("Capacity:Engine", typeof(EngineOptions)),
        ("Capacity:RateLimit", typeof(RateLimitOptions)),
        ("Capacity:Quotas", typeof(QuotaOptions)),
        ("Capacity:Webhooks", typeof(WebhookOptions)),
        ("Metrics", typeof(MetricsOptions)),
    ];

    /// <summary>Settings whose values are secrets: a refusal says how long they are, never what they are.</summary>
    private static readonly HashSet<string> Secrets = new(["Auth:AdminKey", "Auth:JwtSigningKey", "Storage:Postgres:ConnectionString", "Metrics:Key"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Every key the server reads, with the type its value must parse as, in the options classes' order.</summary>
    public static IReadOnlyList<(string Key, Type Type)> KnownKeys { get; } = [.. Sections.SelectMany(s => Leaves(s.Section, s.Options))];

    private static readonly Dictionary<string, Type> KeyTypes = KnownKeys.ToDictionary(k => k.Key, k => k.Type, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every section above a known key (<c>Storage</c>, <c>Storage:Sqlite</c>, <c>Capacity:Limits</c>, …).</summary>
    private static readonly HashSet<string> SectionNames = new(
        KnownKeys.SelectMany(k => k.Key.Split(':')[..^1].Select((_, i) => string.Join(':', k.Key.Split(':')[..(i + 1)]))),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Binds and checks every section; a setting that cannot work is a <see cref="StartupFailure"/> naming it.</summary>
    public static Settings Read(IConfiguration config)
    {
        CheckHostSettings(config);
        foreach (var (key, value) in Roots.SelectMany(r => config.GetSection(r).AsEnumerable()).Where(kv => kv.Value is not null))
        {
            // Some sources (the test host's) give a section itself an empty value.
            if (value!.Length == 0 && SectionNames.Contains(key))
            {
                continue;
            }

            if (!KeyTypes.TryGetValue(key, out var type))
            {
                throw StartupFailure.Configuration(
                    $"{key} is not a setting; did you mean {Nearest(key)}? (Every setting is listed in README.md, \"Configuration\".)");
            }

            if (ParseError(value, type) is { } expected)
            {
                throw StartupFailure.Configuration($"{key} is '{value}', which is not {expected}; set it to {expected} or remove it to use the default.");
            }
        }

        var settings = new Settings(
            Bind<StorageOptions>(config, "Storage"),
            Bind<AuthOptions>(config, "Auth"),
            Bind<ServerOptions>(config, "Capacity"),
            Bind<CoreLimits>(config, "Capacity:Limits"),
            Bind<EngineOptions>(config, "Capacity:Engine"),
            Bind<RateLimitOptions>(config, "Capacity:RateLimit"),
            Bind<WebhookOptions>(config, "Capacity:Webhooks"),
            Bind<MetricsOptions>(config, "Metrics"),
            Bind<QuotaOptions>(config, "Capacity:Quotas"));
        foreach (var (key, holds, must) in settings.Rules())
        {
            if (!holds)
            {
                var value = config[key];
                var shown = value is null ? "unset (the default)"
                    : !Secrets.Contains(key) ? value
                    : key.Equals("Auth:JwtSigningKey", StringComparison.OrdinalIgnoreCase) ? $"{Encoding.UTF8.GetByteCount(value)} bytes long"
                    : $"{value.Length} characters long";
                throw StartupFailure.Configuration($"{key} is {shown}, but it must be {must}.");
            }
        }

        return settings;
    }

    /// <summary>
    /// The range of every setting that has one, each setting checked on its own before the rules that
    /// relate it to another, so a refusal names the setting that is wrong rather than its neighbour.
    /// Values are the bound ones, defaults included.
    /// </summary>
    private IEnumerable<(string Key, bool Holds, string Must)> Rules()
    {
        var l = Limits;
        yield return ("Capacity:Limits:MaxTotalCapacity", l.MaxTotalCapacity >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxQuantityPerItem", l.MaxQuantityPerItem >= 1 && l.MaxQuantityPerItem <= l.MaxTotalCapacity, $"at least 1 and at most Capacity:Limits:MaxTotalCapacity ({l.MaxTotalCapacity})");
        yield return ("Capacity:Limits:MaxItemsPerReservation", l.MaxItemsPerReservation >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxLifetimeMinutes", l.MaxLifetimeMinutes >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxHoldMinutes", l.MaxHoldMinutes >= 1 && l.MaxHoldMinutes <= l.MaxLifetimeMinutes, $"at least 1 and at most Capacity:Limits:MaxLifetimeMinutes ({l.MaxLifetimeMinutes})");
        yield return ("Capacity:Limits:DefaultHoldMinutes", l.DefaultHoldMinutes >= 1 && l.DefaultHoldMinutes <= l.MaxHoldMinutes, $"at least 1 and at most Capacity:Limits:MaxHoldMinutes ({l.MaxHoldMinutes})");
        yield return ("Capacity:Limits:MaxDepth", l.MaxDepth >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxParents", l.MaxParents >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxNameLength", l.MaxNameLength >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxCodeLength", l.MaxCodeLength >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxPrice", l.MaxPrice > 0, "more than 0");
        yield return ("Capacity:Limits:MaxLimitCapacities", l.MaxLimitCapacities >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxOfferMinutes", l.MaxOfferMinutes >= 1, "at least 1");
        yield return ("Capacity:Limits:DefaultOfferMinutes", l.DefaultOfferMinutes >= 1 && l.DefaultOfferMinutes <= l.MaxOfferMinutes, $"at least 1 and at most Capacity:Limits:MaxOfferMinutes ({l.MaxOfferMinutes})");
        yield return ("Capacity:Limits:MaxExternalRefLength", l.MaxExternalRefLength >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxWebhooks", l.MaxWebhooks >= 1, "at least 1");
        yield return ("Capacity:Limits:MaxWebhookUrlLength", l.MaxWebhookUrlLength >= 20, "at least 20");

        yield return ("Storage:Sqlite:UsageIdleMinutes", Storage.Sqlite.UsageIdleMinutes >= 0, "0 (kept for as long as the server runs) or more");

        var s = Server;
        yield return ("Capacity:MaxBodyBytes", s.MaxBodyBytes >= 1024, "at least 1024 (a cart of many items needs a few kilobytes)");
        yield return ("Capacity:MaxPageSize", s.MaxPageSize >= 1, "at least 1");
        yield return ("Capacity:DefaultPageSize", s.DefaultPageSize >= 1 && s.DefaultPageSize <= s.MaxPageSize, $"at least 1 and at most Capacity:MaxPageSize ({s.MaxPageSize})");
        yield return ("Capacity:SweepIntervalMs", s.SweepIntervalMs >= 1, "at least 1");
        yield return ("Capacity:UsageFoldSlice", s.UsageFoldSlice >= 0, "0 (no folds while idle) or more");
        yield return ("Capacity:IdempotencyRetentionHours", s.IdempotencyRetentionHours >= 1, "at least 1 (a retry must find the answer it repeats)");
        yield return ("Capacity:IdempotencyWaitMs", s.IdempotencyWaitMs >= 0, "0 or more");
        yield return ("Capacity:StreamHeartbeatMs", s.StreamHeartbeatMs >= 100, "at least 100");
        yield return ("Capacity:WarmUpMs", s.WarmUpMs is >= 0 and <= 60_000, "between 0 (no warm-up) and 60000");
        yield return ("Capacity:OtlpEndpoint",
            s.OtlpEndpoint is null || Uri.TryCreate(s.OtlpEndpoint, UriKind.Absolute, out var otlp) && otlp.Scheme is "http" or "https",
            "an absolute http or https address, such as http://collector:4318");

        yield return ("Capacity:Engine:MaxBatch", Engine.MaxBatch >= 1, "at least 1");
        yield return ("Metrics:Key", Metrics.Key is null || Metrics.Key.Length >= 16, "at least 16 characters, or unset to leave /metrics open");
        yield return ("Capacity:Webhooks:TimeoutMs", Webhooks.TimeoutMs is >= 100 and <= 60_000, "between 100 and 60000");
        yield return ("Capacity:Webhooks:PollIntervalMs", Webhooks.PollIntervalMs is >= 10 and <= 60_000, "between 10 and 60000");
        yield return ("Capacity:Engine:QueueLimit", Engine.QueueLimit >= 1, "at least 1");
        yield return ("Capacity:Engine:WriterNice", Engine.WriterNice is >= -20 and <= 19, "between -20 and 19");
        yield return ("Capacity:RateLimit:PermitsPerSecond", RateLimit.PermitsPerSecond >= 0, "0 (no limit) or more");
        yield return ("Capacity:RateLimit:Burst", RateLimit.Burst >= 1, "at least 1");
        yield return ("Capacity:Quotas:MaxStreamsPerTenant", Quotas.MaxStreamsPerTenant >= 1, "at least 1");
        yield return ("Capacity:Quotas:MaxCapacitiesPerEvent", Quotas.MaxCapacitiesPerEvent >= 1, "at least 1");
        yield return ("Capacity:Quotas:MaxKeysPerTenant", Quotas.MaxKeysPerTenant >= 1, "at least 1");
        yield return ("Capacity:Quotas:MaxLiveHoldsPerTenant", Quotas.MaxLiveHoldsPerTenant >= 0, "0 (no bound) or more");
        yield return ("Capacity:Quotas:StreamBytesPerSecondPerTenant", Quotas.StreamBytesPerSecondPerTenant >= 0, "0 (no bound) or more");
        yield return ("Capacity:Quotas:HeavyReadsPerTenant", Quotas.HeavyReadsPerTenant >= 1, "at least 1");
        yield return ("Capacity:Quotas:LiveHoldsRefreshMs", Quotas.LiveHoldsRefreshMs is >= 100 and <= 60_000, "between 100 and 60000");

        yield return ("Auth:AdminKey", Auth.AdminKey is null || Auth.AdminKey.Trim().Length >= 16, "at least 16 characters, or unset to have one generated in the data directory");
        yield return ("Auth:JwtSigningKey", string.IsNullOrEmpty(Auth.JwtSigningKey) || Encoding.UTF8.GetByteCount(Auth.JwtSigningKey) >= 32,
            "at least 32 bytes (HS256 needs a 256-bit key; `openssl rand -base64 48` makes one), or unset to refuse JWTs");
        yield return ("Auth:MaxJwtLifetimeMinutes", Auth.MaxJwtLifetimeMinutes >= 1, "at least 1");
        yield return ("Auth:FailedAttemptsPerMinute", Auth.FailedAttemptsPerMinute >= 0, "0 (no throttle) or more");
    }

    /// <summary>The known key closest to <paramref name="key"/> by edit distance, ignoring case.</summary>
    internal static string Nearest(string key) =>
        KnownKeys.MinBy(k => Distance(key.ToUpperInvariant(), k.Key.ToUpperInvariant())).Key;

    /// <summary>
    /// Levenshtein distance from a typo to a known key, where a letter the typo lacks costs half of any
    /// other edit: a shortened name (<c>Auth:JwtKey</c>) is nearer the long one it abbreviates
    /// (<c>Auth:JwtSigningKey</c>) than a different name of similar length (<c>Auth:AdminKey</c>). Two
    /// rows: keys are short and this runs once, on a typo.
    /// </summary>
    private static int Distance(string typo, string known)
    {
        const int Insert = 1, Delete = 2, Substitute = 2;
        var previous = new int[known.Length + 1];
        var current = new int[known.Length + 1];
        for (var j = 0; j <= known.Length; j++)
        {
            previous[j] = j * Insert;
        }

        for (var i = 1; i <= typo.Length; i++)
        {
            current[0] = i * Delete;
            for (var j = 1; j <= known.Length; j++)
            {
                var substitution = previous[j - 1] + (typo[i - 1] == known[j - 1] ? 0 : Substitute);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + Delete, current[j - 1] + Insert));
            }

            (previous, current) = (current, previous);
        }

        return previous[known.Length];
    }

    /// <summary>
    /// The two host settings an operator sets most and mistypes: the addresses to listen on and the log
    /// levels. Left to the host, a port that is not a number made Kestrel listen on every interface at
    /// port 80, and a scheme other than http(s) or a log level such as "Informaton" stopped the start
    /// with a stack trace, which reads as a bug of ours.
    /// </summary>
    private static void CheckHostSettings(IConfiguration config)
    {
        if (config["urls"] is { Length: > 0 } urls)
        {
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!IsListenUrl(url))
                {
                    throw StartupFailure.Configuration(
                        $"urls (--urls or ASPNETCORE_URLS) has '{url}', which is not an address to listen on; give http:// or https://, a host, and a port from 0 to 65535, e.g. http://0.0.0.0:5050.");
                }
            }
        }

        foreach (var key in new[] { "http_ports", "https_ports" })
        {
            if (config[key] is { Length: > 0 } ports
                && ports.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(p => !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535))
            {
                throw StartupFailure.Configuration($"{key} (ASPNETCORE_{key.ToUpperInvariant()}) is '{ports}', which is not a list of ports from 0 to 65535 separated by ';'.");
            }
        }

        foreach (var (key, value) in config.GetSection("Logging").AsEnumerable().Where(kv => kv.Value is { Length: > 0 }))
        {
            var parts = key.Split(':');
            if (parts.Length >= 3 && parts[^2].Equals("LogLevel", StringComparison.OrdinalIgnoreCase) && !Enum.TryParse<LogLevel>(value, ignoreCase: true, out _))
            {
                throw StartupFailure.Configuration(
                    $"{key} is '{value}', which is not a log level; set it to Trace, Debug, Information, Warning, Error, Critical or None.");
            }
        }
    }

    /// <summary>What Kestrel can bind: http or https, a host (a name, an address, * or +) and an optional port, or a Unix socket.</summary>
    internal static bool IsListenUrl(string url) => ListenUrl().Match(url) is { Success: true } m
        && (!m.Groups["port"].Success || int.TryParse(m.Groups["port"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535);

    [System.Text.RegularExpressions.GeneratedRegex(@"^https?://(unix:/.+|(\[[0-9A-Fa-f:.]+\]|[*+]|[A-Za-z0-9.-]+)(:(?<port>[0-9]{1,5}))?/?)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex ListenUrl();

    /// <summary>The keys an options class binds: its settable instance properties, nested classes followed.</summary>
    private static IEnumerable<(string Key, Type Type)> Leaves(string prefix, Type options)
    {
        foreach (var property in options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var key = $"{prefix}:{property.Name}";
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (type.IsPrimitive || type == typeof(string) || type == typeof(decimal))
            {
                yield return (key, type);
            }
            else
            {
                foreach (var leaf in Leaves(key, type))
                {
                    yield return leaf;
                }
            }
        }
    }

    /// <summary>What a value must be and is not, or null when it parses as the binder will read it.</summary>
    private static string? ParseError(string value, Type type) => type switch
    {
        _ when type == typeof(int) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? null
            : System.Numerics.BigInteger.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? "a whole number from -2147483648 to 2147483647"
            : "a whole number",
        _ when type == typeof(long) => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? null : "a whole number",
        _ when type == typeof(decimal) => decimal.TryParse(value, NumberStyles.Number, CultureInfo.InvariantCulture, out _) ? null : "a number",
        _ when type == typeof(bool) => bool.TryParse(value, out _) ? null : "true or false",
        _ => null,
    };

    private static T Bind<T>(IConfiguration config, string section)
        where T : new() => config.GetSection(section).Get<T>() ?? new T();
}

/// <summary>The <c>Storage</c> section: which store, and where (<see cref="StoreSettings"/>).</summary>
internal sealed class StorageOptions
{
    /// <summary><c>sqlite</c> (the default, embedded) or <c>postgres</c>.</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>Where the admin key, and by default the SQLite file, are kept.</summary>
    public string DataDirectory { get; set; } = "./data";

    public SqliteOptions Sqlite { get; set; } = new();

    public PostgresOptions Postgres { get; set; } = new();
}

internal sealed class SqliteOptions
{
    /// <summary>The database file; <c>capacity.db</c> in the data directory when unset.</summary>
    public string? Path { get; set; }

    /// <summary>
    /// Minutes the writer keeps a capacity's buyers' usage in memory after the last hold that checked a
    /// limit on it; 0 keeps it for as long as the server runs. A capacity forgotten is loaded from the
    /// file again by its next checked hold (about 0.25 s per 340,000 buyers).
    /// </summary>
    public int UsageIdleMinutes { get; set; } = 30;
}

internal sealed class PostgresOptions
{
    /// <summary>An Npgsql connection string; required with <c>Provider=postgres</c>.</summary>
    public string? ConnectionString { get; set; }
}

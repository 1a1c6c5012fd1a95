using System.Data.Common;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Capacity.Engine;
using Capacity.Storage;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Npgsql;

namespace Capacity.Server;

/// <summary>
/// Which store the server opens and where, from the <c>Storage</c> section: what the first log line
/// names, and what a failure to open it is explained with (<see cref="Explain"/>).
/// </summary>
internal sealed record StoreSettings(string Provider, string DataDirectory, string? SqlitePath, string? PostgresConnectionString)
{
    /// <summary>Whether the SQLite file was named by <c>Storage:Sqlite:Path</c> rather than put in the data directory.</summary>
    private bool SqlitePathConfigured { get; init; }

    /// <summary>How long the SQLite writer keeps a capacity's buyers' usage in memory unread (<c>Storage:Sqlite:UsageIdleMinutes</c>; zero: for good).</summary>
    private TimeSpan SqliteUsageIdle { get; init; }

    public static StoreSettings From(StorageOptions options)
    {
        var dataDirectory = options.DataDirectory;
        switch (options.Provider.ToLowerInvariant())
        {
            case "sqlite":
                var path = options.Sqlite.Path;
                return new StoreSettings("sqlite", dataDirectory, path ?? Path.Combine(dataDirectory, "capacity.db"), null) { SqlitePathConfigured = path is not null, SqliteUsageIdle = TimeSpan.FromMinutes(options.Sqlite.UsageIdleMinutes) };
            case "postgres":
                var connectionString = options.Postgres.ConnectionString;
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw StartupFailure.Configuration(
                        "Storage:Provider is postgres but Storage:Postgres:ConnectionString is not set; set it to an Npgsql connection string such as Host=db;Database=capacity;Username=capacity;Password=….");
                }

                try
                {
                    _ = new NpgsqlConnectionStringBuilder(connectionString);
                }
                catch (ArgumentException e)
                {
                    // The reason names the keyword at fault, never a value: the string holds a password.
                    throw StartupFailure.Configuration(
                        $"Storage:Postgres:ConnectionString is not a valid Npgsql connection string ({StartupFailure.Reason(e)}); write it as Key=value pairs such as Host=db;Database=capacity;Username=capacity;Password=….");
                }

                return new StoreSettings("postgres", dataDirectory, null, connectionString);
            default:
                throw StartupFailure.Configuration($"Storage:Provider is '{options.Provider}', which is not a store; set it to sqlite (the default) or postgres.");
        }
    }

    /// <summary>The setting that names the SQLite file's place.</summary>
    private string SqliteSetting => SqlitePathConfigured ? "Storage:Sqlite:Path" : "Storage:DataDirectory";

    /// <summary>The store and where it is, for the log; never a password.</summary>
    public string Describe()
    {
        if (Provider == "sqlite")
        {
            return $"SQLite at {Path.GetFullPath(SqlitePath!)}";
        }

        var b = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        var schema = b.SearchPath is { Length: > 0 } path ? $", schema {path}" : "";
        return $"PostgreSQL at {b.Host}:{b.Port}/{b.Database} as {b.Username}{schema}";
    }

    public IReadStore Open(TimeProvider time, IMeterFactory? meters = null) =>
        Provider == "sqlite" ? new SqliteStore(SqlitePath!, time, meters) { UsageIdle = SqliteUsageIdle } : new PostgresStore(PostgresConnectionString!);

    /// <summary>
    /// Fails the start at once, with the setting to change, when a directory the server must write to
    /// cannot be written: found here, before anything is opened, rather than as whichever exception the
    /// first write happens to raise.
    /// </summary>
    public void EnsureWritable(bool adminKeyConfigured)
    {
        if (Provider == "sqlite")
        {
            EnsureWritable(Path.GetDirectoryName(Path.GetFullPath(SqlitePath!))!, SqliteSetting);
        }

        if (!adminKeyConfigured)
        {
            EnsureWritable(Path.GetFullPath(DataDirectory), "Storage:DataDirectory");
        }
    }

    private static void EnsureWritable(string directory, string setting)
    {
        try
        {
            OwnerOnly.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".capacity-write-check-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupFailure(
                StartupFailure.CannotWrite,
                $"{setting} puts data in {directory}, which cannot be written ({StartupFailure.Reason(e)}); create it, writable by the user the server runs as, or set {setting} to a directory that is.");
        }
    }

    /// <summary>
    /// Whether opening the store failed in a way that may pass by itself: a PostgreSQL server that
    /// refused or timed out the connection (starting, restarting, or slow on a busy host).
    /// </summary>
    public bool IsTransient(Exception e) =>
        Provider != "sqlite" && e is TimeoutException or SocketException or DbException { IsTransient: true };

    /// <summary>A failure to open or migrate the store, as the one sentence an operator needs, or null for a bug.</summary>
    public StartupFailure? Explain(Exception e)
    {
        if (e is NewerSchemaException)
        {
            return new StartupFailure(StartupFailure.NewerDatabase, e.Message);
        }

        if (Provider == "sqlite")
        {
            return e switch
            {
                // The store's own refusal to share its file (it keeps the committed rows in memory).
                InvalidOperationException { InnerException: IOException } => new StartupFailure(
                    StartupFailure.InUse,
                    $"The SQLite database {Path.GetFullPath(SqlitePath!)} ({SqliteSetting}) is already open in another Capacity server; stop that server, or give this one a file of its own (several nodes share PostgreSQL instead)."),
                DbException or IOException or UnauthorizedAccessException => new StartupFailure(
                    StartupFailure.CannotWrite,
                    $"The SQLite database {Path.GetFullPath(SqlitePath!)} ({SqliteSetting}) cannot be opened for writing ({StartupFailure.Reason(e)}); make it and its directory writable by the user the server runs as, or set {SqliteSetting} elsewhere."),
                _ => null,
            };
        }

        return e is DbException or TimeoutException or SocketException
            ? new StartupFailure(
                StartupFailure.DatabaseUnavailable,
                $"The database in Storage:Postgres:ConnectionString ({Describe()}) cannot be used ({StartupFailure.Reason(e)}); check that PostgreSQL is running and reachable and that the host, port, database, user and password in the setting are right.")
            : null;
    }
}

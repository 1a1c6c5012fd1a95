using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Capacity.Testing;

/// <summary>
/// A real, throwaway PostgreSQL cluster on 127.0.0.1, started by the tests themselves from Debian's
/// packages (initdb + postgres), as the <c>postgres</c> user when the tests run as root, because
/// PostgreSQL refuses to run as root. <c>setpriv</c> switches user and then execs, so the process we
/// hold is postgres itself and a signal to it reaches the server. <c>CAPACITY_TEST_POSTGRES</c> may name an existing server
/// instead. Each fixture gets a schema of its own, so no test sees another's rows.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer?>> SharedServer = new(() => TryStartAsync());
    private static string? _unavailable;

    private readonly string? _dataDirectory;
    private readonly string? _binDirectory;
    private readonly bool _asPostgresUser;
    private Process? _process;

    private PostgresServer(string adminConnectionString, string? dataDirectory, string? binDirectory, int port, bool asPostgresUser)
    {
        AdminConnectionString = adminConnectionString;
        _dataDirectory = dataDirectory;
        _binDirectory = binDirectory;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    public string AdminConnectionString { get; }

    public int Port { get; }

    /// <summary>
    /// The process-wide server. Outside CI, a machine without PostgreSQL skips the test with the
    /// reason; in CI (CI=true) it fails it, because a missing database must never pass as green.
    /// </summary>
    public static async Task<PostgresServer> SharedAsync()
    {
        var server = await SharedServer.Value;
        if (server is not null)
        {
            return server;
        }

        var reason = $"PostgreSQL is not available: {_unavailable}";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Xunit.Assert.Fail(reason);
        }

        Xunit.Assert.Skip(reason);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>A fresh schema and a connection string whose search path points at it.</summary>
    public async Task<string> NewSchemaAsync()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using (var c = new NpgsqlConnection(AdminConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", c);
            await cmd.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { SearchPath = schema, MaxPoolSize = 30 }.ConnectionString;
    }

    /// <summary>Starts a cluster of its own (for tests that stop and restart the database).</summary>
    public static async Task<PostgresServer> StartPrivateAsync()
    {
        var server = await TryStartAsync();
        return server ?? throw new InvalidOperationException($"PostgreSQL is not available: {_unavailable}");
    }

    private static async Task<PostgresServer?> TryStartAsync()
    {
        try
        {
            var external = Environment.GetEnvironmentVariable("CAPACITY_TEST_POSTGRES");
            if (!string.IsNullOrEmpty(external))
            {
                return new PostgresServer(external, null, null, new NpgsqlConnectionStringBuilder(external).Port, false);
            }

            var bin = Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending().FirstOrDefault()
                : null;
            if (bin is null)
            {
                _unavailable = "no initdb under /usr/lib/postgresql (apt-get install postgresql), and CAPACITY_TEST_POSTGRES is not set";
                return null;
            }

            var asPostgres = Environment.UserName == "root";
            var data = Path.Combine(Path.GetTempPath(), "capacity-pg-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(data);
            if (asPostgres)
            {
                await RunAsync("chown", $"postgres {data}");
            }

            var port = FreePort();
            var server = new PostgresServer(
                $"Host=127.0.0.1;Port={port};Username=capacity;Database=postgres;Pooling=true;Maximum Pool Size=20",
                data, bin, port, asPostgres);
            await server.RunAsPostgresAsync(Path.Combine(bin, "initdb"), $"-D {data} -U capacity --auth=trust -E UTF8 --no-sync --no-instructions");
            await server.StartProcessAsync();

            // The shared server lives as long as the test process; make sure it does not outlive it.
            AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopNow();
            return server;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.ComponentModel.Win32Exception or NpgsqlException or TimeoutException)
        {
            _unavailable = ex.Message;
            return null;
        }
    }

    /// <summary>Stops the server abruptly (an outage); <see cref="RestartAsync"/> brings it back.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            // SIGINT is PostgreSQL's "fast" shutdown: connections are cut at once.
            await RunAsync("kill", $"-INT {_process.Id}");
            await _process.WaitForExitAsync();
        }

        NpgsqlConnection.ClearAllPools();
    }

    public Task RestartAsync() => StartProcessAsync();

    private void StopNow()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                using var kill = Process.Start("kill", $"-INT {_process.Id}");
                kill?.WaitForExit();
                _process.WaitForExit(10_000);
            }

            if (_dataDirectory is not null)
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Best effort at exit: the directory is under the temp folder.
        }
    }

    private async Task StartProcessAsync()
    {
        var postgres = Path.Combine(_binDirectory!, "postgres");
        var args = $"-D {_dataDirectory} -p {Port} -k {_dataDirectory} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            + "-c fsync=off -c shared_buffers=64MB -c log_min_messages=fatal";
        var start = _asPostgresUser
            ? new ProcessStartInfo("setpriv", $"--reuid=postgres --regid=postgres --init-groups {postgres} {args}")
            : new ProcessStartInfo(postgres, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        _process = Process.Start(start) ?? throw new InvalidOperationException("postgres did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await using var c = new NpgsqlConnection(AdminConnectionString + ";Pooling=false;Timeout=2");
                await c.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    private Task RunAsPostgresAsync(string file, string args) =>
        _asPostgresUser ? RunAsync("setpriv", $"--reuid=postgres --regid=postgres --init-groups {file} {args}") : RunAsync(file, args);

    private static async Task RunAsync(string file, string args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {await error}{await output}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_dataDirectory is not null)
        {
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

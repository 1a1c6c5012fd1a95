using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Capacity.EngineBench;

/// <summary>
/// A throwaway PostgreSQL cluster on 127.0.0.1 from Debian's binaries, for runs given no
/// connection string. Unlike the test suite's cluster it keeps <c>fsync</c> and
/// <c>synchronous_commit</c> on: durability is what is being measured. PostgreSQL refuses to run
/// as root, so as root it runs as the <c>postgres</c> user; <c>setpriv</c> execs, so the process
/// held here is postgres itself and SIGINT (fast shutdown) reaches it.
/// </summary>
internal sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private readonly Process _process;
    private int _stopped;

    private PostgresCluster(string dataDirectory, Process process, string connectionString)
    {
        _dataDirectory = dataDirectory;
        _process = process;
        ConnectionString = connectionString;

        // A run ended by Ctrl+C or an exception must not leave a server behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
    }

    public string ConnectionString { get; }

    /// <summary>The server settings that matter for the figures, printed with the results.</summary>
    public const string Settings = "fsync=on synchronous_commit=on full_page_writes=on shared_buffers=256MB";

    public static async Task<PostgresCluster> StartAsync(CancellationToken ct)
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("No PostgreSQL under /usr/lib/postgresql (apt-get install postgresql), and no --connection given.");
        }

        var asPostgres = Environment.UserName == "root";
        var data = Path.Combine(Path.GetTempPath(), "capacity-bench-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(data);
        if (asPostgres)
        {
            await RunAsync("chown", $"postgres {data}", ct);
        }

        await RunAsync(asPostgres, Path.Combine(bin, "initdb"), $"-D {data} -U capacity --auth=trust -E UTF8 --no-instructions", ct);

        var port = FreePort();
        var args = $"-D {data} -p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200 -c log_min_messages=fatal "
            + string.Join(' ', Settings.Split(' ').Select(s => "-c " + s));
        var postgres = Path.Combine(bin, "postgres");
        var start = asPostgres
            ? new ProcessStartInfo("setpriv", $"--reuid=postgres --regid=postgres --init-groups {postgres} {args}")
            : new ProcessStartInfo(postgres, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("postgres did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var connectionString = $"Host=127.0.0.1;Port={port};Username=capacity;Database=postgres";
        var cluster = new PostgresCluster(data, process, connectionString);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await using var c = new NpgsqlConnection(connectionString + ";Pooling=false;Timeout=2");
                await c.OpenAsync(ct);
                return cluster;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, ct);
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            if (!_process.HasExited)
            {
                using var kill = Process.Start("kill", $"-INT {_process.Id}");
                kill.WaitForExit();
                _process.WaitForExit(10_000);
            }

            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"Could not clean up the PostgreSQL cluster in {_dataDirectory}: {ex.Message}");
        }
    }

    private static Task RunAsync(bool asPostgres, string file, string args, CancellationToken ct) =>
        asPostgres ? RunAsync("setpriv", $"--reuid=postgres --regid=postgres --init-groups {file} {args}", ct) : RunAsync(file, args, ct);

    private static async Task RunAsync(string file, string args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = p.StandardOutput.ReadToEndAsync(ct);
        var error = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
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
}

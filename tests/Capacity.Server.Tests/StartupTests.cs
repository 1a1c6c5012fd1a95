using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Capacity.Server.Docs;

namespace Capacity.Server.Tests;

/// <summary>
/// The real server process as an operator meets it: a start that cannot succeed says why in one line
/// naming the setting, with no stack trace, and exits with its documented code (README.md,
/// "Exit codes"); a start that succeeds says what runs where; SIGTERM stops it at once, live
/// streams included.
/// </summary>
public sealed class StartupTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "capacity-startup", Guid.NewGuid().ToString("N"));

    public StartupTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open is left for the OS to clean; it is under the temp directory.
        }
    }

    private Dictionary<string, string> Settings(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = Path.Combine(_directory, "data"),
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    [Fact]
    public async Task An_unknown_storage_provider_stops_the_start_with_exit_78_and_one_line_naming_the_setting()
    {
        await using var run = ServerRun.Start(Settings(("Storage:Provider", "mysql")));
        var line = await AssertRefusedAsync(run, 78, "Storage:Provider");
        Assert.Contains("sqlite", line, StringComparison.Ordinal);
        Assert.Contains("postgres", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelt_setting_stops_the_start_with_exit_78_and_the_nearest_valid_name()
    {
        await using var run = ServerRun.Start(Settings(("Storage:Providr", "postgres")));
        var line = await AssertRefusedAsync(run, 78, "Storage:Providr");
        Assert.Contains("did you mean Storage:Provider?", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setting_out_of_range_stops_the_start_with_exit_78_and_its_rule()
    {
        await using var run = ServerRun.Start(Settings(("Capacity:Limits:DefaultHoldMinutes", "0")));
        var line = await AssertRefusedAsync(run, 78, "Capacity:Limits:DefaultHoldMinutes");
        Assert.Contains("must be at least 1", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("urls", "http://127.0.0.1:notaport", "http://0.0.0.0:5050")] // Kestrel listened on every interface at port 80
    [InlineData("urls", "ftp://127.0.0.1:5196", "http://0.0.0.0:5050")]
    [InlineData("urls", "http://127.0.0.1:70000", "0 to 65535")]
    [InlineData("http_ports", "80;eighty", "0 to 65535")]
    [InlineData("Logging:LogLevel:Capacity.Requests", "Informaton", "Information")]
    [InlineData("Logging:Console:LogLevel:Default", "loud", "Warning")]
    [InlineData("Capacity:Limits:MaxHoldMinutes", "99999999999", "2147483647")]
    public async Task A_host_setting_that_cannot_work_stops_the_start_with_exit_78_and_one_line_naming_it(string key, string value, string hint)
    {
        await using var run = ServerRun.Start(Settings((key, value)));
        var line = await AssertRefusedAsync(run, 78, key);
        Assert.Contains(hint, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5050", true)]
    [InlineData("http://*:80", true)]
    [InlineData("http://+:80/", true)]
    [InlineData("https://localhost:5001", true)]
    [InlineData("http://[::1]:5000", true)]
    [InlineData("http://127.0.0.1", true)]
    [InlineData("http://unix:/run/capacity.sock", true)]
    [InlineData("http://127.0.0.1:0", true)]
    [InlineData("http://127.0.0.1:notaport", false)]
    [InlineData("ftp://127.0.0.1:21", false)]
    [InlineData("127.0.0.1:5050", false)]
    [InlineData("http://127.0.0.1:65536", false)]
    public void What_kestrel_can_listen_on_is_an_http_or_https_host_and_port_or_a_unix_socket(string url, bool valid) =>
        Assert.Equal(valid, Server.Settings.IsListenUrl(url));

    [Fact]
    public async Task A_data_directory_that_cannot_be_written_stops_the_start_with_exit_73()
    {
        // The tests run as root, whom permissions do not stop; a path through a regular file cannot
        // be created by anyone.
        var file = Path.Combine(_directory, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var settings = Settings(("Storage:DataDirectory", Path.Combine(file, "data")));
        settings.Remove("Auth:AdminKey");

        await using var run = ServerRun.Start(settings);
        await AssertRefusedAsync(run, 73, "Storage:DataDirectory");
    }

    [Fact]
    public async Task A_sqlite_file_that_another_server_has_open_stops_the_second_start_with_exit_75()
    {
        await using var first = ServerRun.Start(Settings());
        await first.ReadyAsync();

        await using var second = ServerRun.Start(Settings());
        var line = await AssertRefusedAsync(second, 75, "Storage:DataDirectory");
        Assert.Contains("already open in another Capacity server", line, StringComparison.Ordinal);

        // The first server is unharmed.
        using var client = first.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task A_port_in_use_stops_the_start_with_exit_75_and_names_the_urls_setting()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        await using var run = ServerRun.Start(Settings(), url);
        var line = await AssertRefusedAsync(run, 75, "--urls");
        Assert.Contains(url, line, StringComparison.Ordinal);
    }

    /// <summary>The start waits about ten seconds for a database that does not answer (five tries), then gives up.</summary>
    [Fact]
    public async Task An_unreachable_database_stops_the_start_with_exit_69_after_a_few_tries_and_never_prints_the_password()
    {
        var connectionString = $"Host=127.0.0.1;Port={ServerRun.FreePort()};Database=capacity;Username=capacity;Password=s3cret-pa55";
        await using var run = ServerRun.Start(Settings(("Storage:Provider", "postgres"), ("Storage:Postgres:ConnectionString", connectionString)));
        var line = await AssertRefusedAsync(run, 69, "Storage:Postgres:ConnectionString");
        Assert.DoesNotContain("s3cret-pa55", run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", line, StringComparison.Ordinal);
        Assert.Contains("trying again in 2 s (4 of 5)", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_that_comes_up_a_few_seconds_after_the_server_starts_is_waited_for_and_served()
    {
        await Capacity.Testing.PostgresServer.SharedAsync(); // skips or fails with the reason when PostgreSQL is missing
        await using var pg = await Capacity.Testing.PostgresServer.StartPrivateAsync();
        var schema = await pg.NewSchemaAsync();
        await pg.StopAsync();

        await using var run = ServerRun.Start(Settings(("Storage:Provider", "postgres"), ("Storage:Postgres:ConnectionString", schema)));
        var deadline = Stopwatch.StartNew();
        while (!run.Stdout.Contains("The database is not answering yet", StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"No retry was logged.\nstdout:\n{run.Stdout}\nstderr:\n{run.Stderr}");
            await Task.Delay(100);
        }

        await pg.RestartAsync();
        await run.ReadyAsync();
        using var admin = run.Client(CapacityApp.AdminKey);
        var tenant = await admin.PostAsJsonAsync("/admin/tenants", new { name = "Late database" });
        Assert.Equal(HttpStatusCode.Created, tenant.StatusCode);
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_stops_the_start_with_exit_78()
    {
        await using var run = ServerRun.Start(Settings(("Storage:Provider", "postgres")));
        await AssertRefusedAsync(run, 78, "Storage:Postgres:ConnectionString");
    }

    /// <summary>
    /// A rollback onto a database a newer version migrated: this version refuses it before writing
    /// anything (its schema may hold what this one would misread), naming both migrations.
    /// </summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_database_migrated_by_a_newer_version_stops_the_start_with_exit_65_and_is_left_as_it_was(string provider)
    {
        const string Newer = "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL); "
            + "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_from_the_future', 0)";
        System.Data.Common.DbConnection connection;
        Dictionary<string, string> settings;
        if (provider == "sqlite")
        {
            Directory.CreateDirectory(Path.Combine(_directory, "data"));
            connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "data", "capacity.db")};Pooling=False");
            settings = Settings();
        }
        else
        {
            var schema = await (await Capacity.Testing.PostgresServer.SharedAsync()).NewSchemaAsync();
            connection = new Npgsql.NpgsqlConnection(schema);
            settings = Settings(("Storage:Provider", "postgres"), ("Storage:Postgres:ConnectionString", schema));
        }

        await using (connection)
        {
            await connection.OpenAsync();
            await using (var create = connection.CreateCommand())
            {
                create.CommandText = Newer;
                await create.ExecuteNonQueryAsync();
            }

            await using var run = ServerRun.Start(settings);
            var line = await AssertRefusedAsync(run, 65, "migration 999");
            var latest = Capacity.Storage.MigrationScripts.Load(provider == "sqlite" ? typeof(Capacity.Storage.Sqlite.SqliteStore).Assembly : typeof(Capacity.Storage.Postgres.PostgresStore).Assembly)
                .Max(m => m.Version);
            Assert.Equal(
                $"The database was migrated by a newer version of Capacity (migration 999; this one knows up to {latest}): run that version or restore the backup taken before the upgrade.",
                line);

            await using var tables = connection.CreateCommand();
            tables.CommandText = provider == "sqlite"
                ? "SELECT COUNT(*) FROM sqlite_master"
                : "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()";
            Assert.Equal(1L, Convert.ToInt64(await tables.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task The_first_log_lines_say_the_version_the_store_and_where_then_the_urls_the_dashboard_and_the_docs()
    {
        await using var run = ServerRun.Start(Settings());
        await run.ReadyAsync();
        var listening = await LogLineAsync(run, "Listening on");

        var first = JsonNode.Parse(run.Stdout.Split('\n')[0])!["Message"]!.GetValue<string>();
        Assert.Contains(IndexApi.Version, first, StringComparison.Ordinal);
        Assert.Contains($"SQLite at {Path.Combine(_directory, "data", "capacity.db")}", first, StringComparison.Ordinal);
        Assert.Contains(run.Url, listening, StringComparison.Ordinal);
        Assert.Contains($"{run.Url}/dashboard/", listening, StringComparison.Ordinal);
        Assert.Contains($"{run.Url}/docs", listening, StringComparison.Ordinal);
        Assert.DoesNotContain("open to other users", run.Stdout, StringComparison.Ordinal);

        run.Terminate();
        Assert.Equal(0, await run.ExitCodeAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(run.Stderr);
    }

    /// <summary>
    /// A data directory and database made before the server made them its user's alone (or opened by a
    /// hand) keep their modes, and each start says which are open to other users, and how to close them.
    /// </summary>
    [Fact]
    public async Task A_data_directory_or_database_open_to_other_users_is_named_in_a_warning_at_start_and_kept_as_it_is()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var data = Path.Combine(_directory, "data");
        const UnixFileMode open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        Directory.CreateDirectory(data, open | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var database = Path.Combine(data, "capacity.db");
        await using (File.Create(database))
        {
        }

        File.SetUnixFileMode(database, open);
        await using var run = ServerRun.Start(Settings());
        await run.ReadyAsync();
        var directoryWarning = await LogLineAsync(run, data + " is open to other users");
        Assert.Contains("mode 0755", directoryWarning, StringComparison.Ordinal);
        Assert.Contains("chmod 0700", directoryWarning, StringComparison.Ordinal);
        Assert.Contains("chmod 0600", await LogLineAsync(run, database + " is open to other users"), StringComparison.Ordinal);
        Assert.Equal(open, File.GetUnixFileMode(database));

        run.Terminate();
        Assert.Equal(0, await run.ExitCodeAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task On_sigterm_a_server_with_live_streams_open_ends_them_and_exits_within_seconds()
    {
        await using var run = ServerRun.Start(Settings());
        await run.ReadyAsync();
        using var admin = run.Client(CapacityApp.AdminKey);
        using var created = await admin.PostAsJsonAsync("/admin/tenants", new { name = "Viewers" });
        Assert.Empty(created.Headers.Server); // Kestrel names itself in no answer
        var key = (await Api.ReadAsync(created, 201))["api_key"]!.GetValue<string>();
        using var tenant = run.Client(key);
        tenant.Timeout = Timeout.InfiniteTimeSpan;
        var pool = await tenant.CreateCapacityAsync("live", "Pool", 10);

        var streams = new List<StreamReader>();
        foreach (var eventId in new[] { "live", "live", "other" })
        {
            var response = await tenant.GetAsync($"/events/{eventId}/capacity/stream", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.Equal("event: snapshot", await reader.ReadLineAsync());
            streams.Add(reader);
        }

        await tenant.HoldAsync(pool, 2);
        var stopping = Stopwatch.StartNew();
        run.Terminate();

        // Each stream ends (the rest of it reads to its end) instead of waiting for the 30 s shutdown timeout.
        await Task.WhenAll(streams.Select(s => s.ReadToEndAsync())).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await run.ExitCodeAsync(TimeSpan.FromSeconds(10)));
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {stopping.Elapsed}");
        Assert.Contains("Stopping: ending 2 live event feeds", run.Stdout, StringComparison.Ordinal);

        foreach (var stream in streams)
        {
            stream.Dispose();
        }
    }

    [Fact]
    public async Task The_root_answers_a_small_index_whose_links_all_answer_without_credentials()
    {
        await using var app = new CapacityApp();
        using var anonymous = app.CreateClient();
        var index = await Api.ReadAsync(await anonymous.GetAsync("/"), 200);
        Assert.Equal("capacity", index["service"]!.GetValue<string>());
        Assert.Equal(IndexApi.Version, index["version"]!.GetValue<string>());

        var links = index["links"]!.AsObject();
        Assert.Equal(["dashboard", "docs", "openapi", "problems", "health", "ready", "metrics"], links.Select(l => l.Key));
        foreach (var (name, link) in links)
        {
            var response = await anonymous.GetAsync(link!.GetValue<string>());
            Assert.True(response.IsSuccessStatusCode, $"{name} ({link}) answered {(int)response.StatusCode}");
        }

        // Nothing about the store or the keys.
        var text = index.ToJsonString();
        Assert.DoesNotContain("sqlite", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(app.Directory, text, StringComparison.Ordinal);
    }

    /// <summary>
    /// The run exits with <paramref name="exitCode"/>, having printed exactly one line on stderr that
    /// names <paramref name="setting"/>, and no stack trace anywhere. Returns the line.
    /// </summary>
    private static async Task<string> AssertRefusedAsync(ServerRun run, int exitCode, string setting)
    {
        var exit = await run.ExitCodeAsync(TimeSpan.FromSeconds(60));
        var output = $"stdout:\n{run.Stdout}\nstderr:\n{run.Stderr}";
        Assert.True(exit == exitCode, $"exit code {exit}, expected {exitCode}\n{output}");
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr\n{output}");
        Assert.Contains(setting, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.Stdout + run.Stderr, StringComparison.Ordinal);
        return lines[0];
    }

    /// <summary>The message of the first JSON log line whose message starts with <paramref name="start"/>, once it is written.</summary>
    private static async Task<string> LogLineAsync(ServerRun run, string start)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            foreach (var line in run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')))
            {
                var message = JsonNode.Parse(line)!["Message"]!.GetValue<string>();
                if (message.StartsWith(start, StringComparison.Ordinal))
                {
                    return message;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"No log line starts with '{start}':\n{run.Stdout}");
            await Task.Delay(50);
        }
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Capacity.Server.Tests;

/// <summary>
/// Docker cannot run here, so what can be checked without it is: the Dockerfile's shape (stages,
/// user, volume, ports) and that its entrypoint and health-check command are the server's own and
/// work; the compose file parses and wires what docs/operations.md says it does; the settings it
/// passes are settings the server knows.
/// </summary>
public sealed partial class PackagingTests
{
    private static readonly string Root = SourceRoot();

    private static string SourceRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    /// <summary>The Dockerfile's instructions, continuation lines joined, comments dropped.</summary>
    private static List<(string Instruction, string Arguments)> Dockerfile()
    {
        var text = File.ReadAllText(Path.Combine(Root, "Dockerfile")).Replace("\\\n", " ", StringComparison.Ordinal);
        return text.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(' ', 2))
            .Select(parts => (parts[0].ToUpperInvariant(), parts.Length > 1 ? parts[1].Trim() : ""))
            .ToList();
    }

    private static string[] ExecForm(string arguments) => JsonSerializer.Deserialize<string[]>(arguments)!;

    [Fact]
    public void The_dockerfile_builds_in_one_stage_and_runs_the_published_server_in_another_as_a_user_that_is_not_root()
    {
        var instructions = Dockerfile();
        var froms = instructions.Where(i => i.Instruction == "FROM").Select(i => i.Arguments).ToList();
        Assert.True(froms.Count >= 2, "multi-stage: a build stage and a run stage");
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:", froms[0], StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", froms[^1], StringComparison.Ordinal);

        var user = instructions.Last(i => i.Instruction == "USER").Arguments;
        Assert.DoesNotContain(user, new[] { "root", "0", "0:0" });

        // What the build copies and publishes exists.
        foreach (var copy in instructions.Where(i => i.Instruction == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal)))
        {
            foreach (var source in copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1])
            {
                Assert.True(Path.Exists(Path.Combine(Root, source)), $"COPY {source}: not in the repository");
            }
        }

        var publish = Regex.Match(instructions.Single(i => i.Instruction == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).Arguments, @"dotnet publish (\S+)");
        Assert.True(File.Exists(Path.Combine(Root, publish.Groups[1].Value)), $"publishes {publish.Groups[1].Value}, which does not exist");
    }

    [Fact]
    public void The_data_directory_is_a_volume_owned_by_the_user_and_the_server_listens_on_the_exposed_port()
    {
        var instructions = Dockerfile();
        var env = EnvOf(instructions);
        var volume = instructions.Single(i => i.Instruction == "VOLUME").Arguments;
        Assert.Equal(env["Storage__DataDirectory"], volume);
        Assert.Contains(instructions, i => i.Instruction == "RUN" && i.Arguments.Contains($"chown \"$APP_UID\" {volume}", StringComparison.Ordinal));
        Assert.Equal("$APP_UID", instructions.Last(i => i.Instruction == "USER").Arguments);

        var port = instructions.Single(i => i.Instruction == "EXPOSE").Arguments;
        Assert.Equal($"http://+:{port}", env["ASPNETCORE_URLS"]);

        // Every Storage/Auth/Capacity setting the image sets is one the server knows.
        AssertKnownSettings(env.Keys, "Dockerfile");
    }

    [Fact]
    public async Task The_entrypoint_and_the_healthcheck_run_the_servers_own_assembly_and_the_healthcheck_tells_up_from_down()
    {
        var instructions = Dockerfile();
        var entrypoint = ExecForm(instructions.Single(i => i.Instruction == "ENTRYPOINT").Arguments);
        var healthcheck = Regex.Match(instructions.Single(i => i.Instruction == "HEALTHCHECK").Arguments, @"CMD (\[.*\])$");
        var check = ExecForm(healthcheck.Groups[1].Value);

        var dll = typeof(Program).Assembly.GetName().Name + ".dll";
        Assert.Equal(["dotnet", $"/app/{dll}"], entrypoint);
        Assert.Equal(["dotnet", $"/app/{dll}", "health-check"], check);

        // The health check as the image runs it (its ASPNETCORE_URLS, a wildcard host), on another port.
        var port = ServerRun.FreePort();
        var urls = EnvOf(instructions)["ASPNETCORE_URLS"].Replace(":8080", $":{port}", StringComparison.Ordinal);
        Assert.Equal(1, await HealthCheckAsync(check[2..], urls));

        var directory = Path.Combine(Path.GetTempPath(), "capacity-packaging", Guid.NewGuid().ToString("N"));
        try
        {
            await using var server = ServerRun.Start(new Dictionary<string, string> { ["Storage:DataDirectory"] = directory, ["Auth:AdminKey"] = CapacityApp.AdminKey }, $"http://127.0.0.1:{port}");
            await server.ReadyAsync();
            Assert.Equal(0, await HealthCheckAsync(check[2..], urls));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Runs <c>dotnet Capacity.Server.dll &lt;arguments&gt;</c> from the test output with ASPNETCORE_URLS set, and returns its exit code.</summary>
    private static async Task<int> HealthCheckAsync(string[] arguments, string urls)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Capacity.Server.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ASPNETCORE_URLS"] = urls;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.DoesNotContain("   at ", await output + await error, StringComparison.Ordinal);
        return process.ExitCode;
    }

    [Fact]
    public void The_compose_file_runs_two_identical_nodes_on_postgres_behind_a_proxy_that_sends_to_both()
    {
        var services = Compose()["services"];
        Assert.Equal(["postgres", "capacity-1", "capacity-2", "proxy"], Keys(services));

        var postgres = Map(services["postgres"]["environment"]);
        var one = Map(services["capacity-1"]["environment"]);
        var two = Map(services["capacity-2"]["environment"]);
        Assert.Equal(one, two);
        AssertKnownSettings(one.Keys, "compose.yaml");
        Assert.Equal("postgres", one["Storage__Provider"]);
        var connection = one["Storage__Postgres__ConnectionString"];
        Assert.Contains("Host=postgres;", connection, StringComparison.Ordinal);
        Assert.Contains($"Database={postgres["POSTGRES_DB"]};", connection, StringComparison.Ordinal);
        Assert.Contains($"Username={postgres["POSTGRES_USER"]};", connection, StringComparison.Ordinal);
        Assert.Contains("Password=${POSTGRES_PASSWORD}", connection, StringComparison.Ordinal);

        foreach (var node in new[] { "capacity-1", "capacity-2" })
        {
            Assert.Equal(".", Scalar(services[node]["build"]));
            Assert.Equal("service_healthy", Scalar(services[node]["depends_on"]["postgres"]["condition"]));
        }

        // The proxy's configuration is the file the compose file mounts, and it sends to both nodes
        // on the port the image listens on, checking /readyz.
        var mount = ((YamlSequenceNode)services["proxy"]["volumes"]).Children.Select(Scalar).Single(v => v.Contains("Caddyfile", StringComparison.Ordinal));
        var caddyfile = File.ReadAllText(Path.Combine(Root, mount.Split(':')[0]));
        var port = Dockerfile().Single(i => i.Instruction == "EXPOSE").Arguments;
        Assert.Contains($"reverse_proxy capacity-1:{port} capacity-2:{port}", caddyfile, StringComparison.Ordinal);
        Assert.Contains("health_uri /readyz", caddyfile, StringComparison.Ordinal);
        Assert.Contains("flush_interval -1", caddyfile, StringComparison.Ordinal);
    }

    [Fact]
    public void The_operations_guide_walks_through_the_files_and_services_that_exist()
    {
        var guide = File.ReadAllText(Path.Combine(Root, "docs", "operations.md"));
        foreach (var name in Keys(Compose()["services"]).Concat(["compose.yaml", "Dockerfile", "deploy/Caddyfile", "health-check", "pg_dump", "pg_restore", "CREATE DATABASE", "/admin/verify"]))
        {
            Assert.Contains(name, guide, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_license_and_a_changelog_are_at_the_root()
    {
        Assert.StartsWith("MIT License", File.ReadAllText(Path.Combine(Root, "LICENSE")), StringComparison.Ordinal);
        Assert.StartsWith("# Changelog", File.ReadAllText(Path.Combine(Root, "CHANGELOG.md")), StringComparison.Ordinal);
    }

    private static void AssertKnownSettings(IEnumerable<string> variables, string where)
    {
        var known = Settings.KnownKeys.Select(k => k.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var variable in variables.Where(v => Settings.Roots.Any(r => v.StartsWith(r + "__", StringComparison.OrdinalIgnoreCase))))
        {
            Assert.True(known.Contains(variable.Replace("__", ":", StringComparison.Ordinal)), $"{where} sets {variable}, which is not a setting");
        }
    }

    private static Dictionary<string, string> EnvOf(List<(string Instruction, string Arguments)> instructions) =>
        instructions.Where(i => i.Instruction == "ENV")
            .SelectMany(i => EnvPair().Matches(i.Arguments))
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    private static YamlMappingNode Compose()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Root, "compose.yaml"));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static List<string> Keys(YamlNode node) => [.. ((YamlMappingNode)node).Children.Keys.Select(Scalar)];

    private static Dictionary<string, string> Map(YamlNode node) => ((YamlMappingNode)node).Children.ToDictionary(c => Scalar(c.Key), c => Scalar(c.Value));

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    [GeneratedRegex(@"(\w+)=(\S+)")]
    private static partial Regex EnvPair();
}

using System.Net.Http.Json;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>
/// The warm-up a node runs before it listens (<c>Capacity:WarmUpMs</c>): real traffic through a
/// throwaway server in the same process, which must leave nothing of itself in the node.
/// </summary>
public sealed class WarmUpTests
{
    [Fact]
    public async Task A_warm_up_places_reads_refuses_confirms_and_releases_through_a_throwaway_server_and_deletes_its_folder()
    {
        var before = WarmUpFolders();

        var report = await WarmUp.RunAsync(TimeSpan.FromMilliseconds(600), TestContext.Current.CancellationToken);

        Assert.True(report.Holds > 0 && report.Reads > 0 && report.Refusals > 0, report.ToString());
        Assert.True(report.Confirms > 0 && report.Releases > 0, report.ToString());
        Assert.Equal(0, report.Unexpected);
        Assert.Empty(WarmUpFolders().Except(before));
    }

    /// <summary>
    /// The longest is a bound, not the length: once the runtime compiles next to nothing new under the
    /// load, the hot paths are optimised and the warm-up ends (a fresh process takes about 6 s on 2
    /// cores). In a process of its own: the runtime's count of compiled methods is the process's, and
    /// in the test process the other tests running meanwhile go on compiling (on CI this kept a warm-up
    /// running to 46 s).
    /// </summary>
    [Fact]
    public async Task A_warm_up_ends_once_the_runtime_compiles_nothing_new_long_before_its_longest()
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N"));
        await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = directory,
            ["Auth:AdminKey"] = CapacityApp.AdminKey,
            ["Capacity:WarmUpMs"] = "50000",
            ["Logging:LogLevel:Default"] = "Information",
        });

        var line = Assert.Single(server.Output.Split('\n'), l => l.Contains("Warmed up in", StringComparison.Ordinal));
        Assert.Contains("(compilation settled)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("did not expect", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_warmed_up_listens_on_an_empty_store_and_its_metrics_count_none_of_the_warm_up()
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N"));
        await using var server = await ServerProcess.StartAsync(
            new Dictionary<string, string>
            {
                ["Storage:DataDirectory"] = directory,
                ["Auth:AdminKey"] = CapacityApp.AdminKey,
                ["Capacity:WarmUpMs"] = "1000",
                ["Logging:LogLevel:Default"] = "Information",
            },

            // A proxy in the node's environment (nothing listens there) must not carry the warm-up's loopback traffic.
            new Dictionary<string, string> { ["HTTP_PROXY"] = "http://127.0.0.1:9", ["http_proxy"] = "http://127.0.0.1:9" });

        Assert.Contains("Warmed up in", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("did not expect", server.Output, StringComparison.Ordinal);

        // The throwaway server logs nothing: one start line, the node's own.
        Assert.Single(server.Output.Split('\n'), l => l.Contains(" starting in ", StringComparison.Ordinal));
        using var admin = server.Client(CapacityApp.AdminKey);
        var audit = await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200);
        Assert.True(audit["ok"]!.GetValue<bool>());
        Assert.Equal(0, audit["capacities"]!.GetValue<int>());
        Assert.Equal(0, audit["live_reservations"]!.GetValue<long>());

        // The node works as any other from its first request.
        var key = (await Api.ReadAsync(await admin.PostAsJsonAsync("/admin/tenants", new { name = "After warm-up" }), 201))["api_key"]!.GetValue<string>();
        using var client = server.Client(key);
        var pool = (await Api.ReadAsync(await client.PostAsJsonAsync("/events/e/capacity", new { section_name = "Pool", total_capacity = 5 }), 201))["id"]!.GetValue<string>();
        await Api.ReadAsync(await client.PostAsJsonAsync($"/capacity/{pool}/reserve", new { quantity = 2 }), 201);

        var metrics = await (await admin.GetAsync("/metrics")).Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var reserves = metrics.Split('\n').Where(l => l.StartsWith("capacity_http_requests_total{", StringComparison.Ordinal) && l.Contains("/reserve", StringComparison.Ordinal)).ToList();
        Assert.Equal(["1"], reserves.Select(l => l[(l.LastIndexOf(' ') + 1)..]));
    }

    /// <summary>The warm-up only saves time: one that cannot run (here, no temporary folder can be made) must not stop a start.</summary>
    [Fact]
    public async Task A_node_whose_warm_up_fails_says_so_and_starts_all_the_same()
    {
        var directory = Path.Combine(Path.GetTempPath(), "capacity-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var notAFolder = Path.Combine(directory, "tmp-is-a-file");
        await File.WriteAllTextAsync(notAFolder, "", TestContext.Current.CancellationToken);
        await using var server = await ServerProcess.StartAsync(
            new Dictionary<string, string>
            {
                ["Storage:DataDirectory"] = directory,
                ["Auth:AdminKey"] = CapacityApp.AdminKey,
                ["Capacity:WarmUpMs"] = "1000",
            },
            new Dictionary<string, string> { ["TMPDIR"] = notAFolder });

        Assert.Contains("The warm-up failed; the node starts without it", server.Output, StringComparison.Ordinal);
        using var admin = server.Client(CapacityApp.AdminKey);
        Assert.True((await Api.ReadAsync(await admin.GetAsync("/admin/verify"), 200))["ok"]!.GetValue<bool>());
    }

    /// <summary>A node killed mid warm-up leaves its throwaway database behind; the next start on the machine deletes it, and never a live node's.</summary>
    [Fact]
    public void A_start_deletes_the_folders_of_warm_ups_whose_process_is_gone_and_keeps_a_live_ones()
    {
        var gone = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"capacity-warmup-{int.MaxValue - 7}-{Guid.NewGuid():N}"));
        File.WriteAllText(Path.Combine(gone.FullName, "warm-up.db"), "left behind");
        var live = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"capacity-warmup-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        try
        {
            WarmUp.DeleteLeftBehind();

            Assert.False(Directory.Exists(gone.FullName));
            Assert.True(Directory.Exists(live.FullName));
        }
        finally
        {
            live.Delete(recursive: true);
            if (Directory.Exists(gone.FullName))
            {
                gone.Delete(recursive: true);
            }
        }
    }

    private static HashSet<string> WarmUpFolders() =>
        [.. Directory.EnumerateDirectories(Path.GetTempPath(), "capacity-warmup-*")];
}

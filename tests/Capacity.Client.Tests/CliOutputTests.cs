using System.Diagnostics;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>What the capacity command prints when something goes wrong, and how its event table reads.</summary>
public sealed class CliOutputTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_service_that_accepts_but_never_answers_exits_6_with_one_error_line_after_the_retries()
    {
        // What HttpClient throws when its Timeout elapses, on every attempt.
        var stub = new StubHandler((_, _) => throw new TaskCanceledException(
            "The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing.", new TimeoutException("The operation was canceled.")));
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["reserve", Guid.NewGuid().ToString(), "-q", "1", "--key", "k"], stub, new StringWriter(), error, _ => null, default);

        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal(4, stub.Calls);
        var line = Assert.Single(Lines(error));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("did not answer within", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_kind_of_network_failure_the_SDK_can_surface_exits_6_with_one_error_line()
    {
        foreach (var failure in new Func<Exception>[]
        {
            () => new HttpRequestException("Connection refused"),
            () => new IOException("Connection reset by peer"),
            () => new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely."),
            () => new OperationCanceledException("The operation was canceled."),
            () => new TaskCanceledException("A task was canceled."),
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync(["events", "list", "--key", "k"], new StubHandler((_, _) => throw failure()), new StringWriter(), error, _ => null, default);

            Assert.True(exit == ExitCodes.Unavailable, $"{failure().GetType().Name}: exit {exit}, {error}");
            Assert.StartsWith("error: ", Assert.Single(Lines(error)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Ctrl_C_while_the_service_does_not_answer_is_still_exit_130()
    {
        var hang = new Hang();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["events", "list", "--key", "k"], hang, new StringWriter(), error, _ => null, stop.Token);

        Assert.Equal(ExitCodes.Interrupted, exit);
        Assert.Equal("Interrupted.", Assert.Single(Lines(error)));
    }

    [Fact]
    public async Task Tenants_create_run_again_with_the_same_key_exits_7_and_says_which_key_to_revoke_rather_than_printing_no_key()
    {
        var key = "tenant-" + Guid.NewGuid().ToString("N");
        var first = await host.RunCliAsync("tenants", "create", "Replay Hall", "--json", "--key", CapacityHost.AdminKey, "--idempotency-key", key);
        var second = await host.RunCliAsync("tenants", "create", "Replay Hall", "--json", "--key", CapacityHost.AdminKey, "--idempotency-key", key);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        using var created = System.Text.Json.JsonDocument.Parse(first.Output);
        var tenantId = created.RootElement.GetProperty("tenant_id").GetString()!;
        var keyId = created.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        Assert.Equal(ExitCodes.ApiError, second.ExitCode);
        Assert.Equal("", second.Output);
        var line = Assert.Single(Lines(second.Error));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains($"capacity admin keys issue {tenantId}", line, StringComparison.Ordinal);
        Assert.Contains($"capacity admin keys revoke {tenantId} {keyId}", line, StringComparison.Ordinal);
    }

    private static string[] Lines(StringWriter writer) => Lines(writer.ToString());

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Never answers: only cancellation ends the wait.</summary>
    private sealed class Hang : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new UnreachableException();
        }
    }
}

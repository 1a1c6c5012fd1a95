namespace Capacity.Server;

/// <summary>
/// <c>dotnet Capacity.Server.dll health-check</c>: asks the server running beside it for
/// <c>/healthz</c> and exits 0 when it answers 200, 1 otherwise, which is what Docker's HEALTHCHECK
/// expects. The image the server runs in has no curl or wget; this needs only the runtime already
/// there. It asks the server's own address: the first of <c>urls</c> (<c>ASPNETCORE_URLS</c> or
/// <c>--urls</c>), else <c>ASPNETCORE_HTTP_PORTS</c>, a wildcard host read as localhost.
/// </summary>
internal static class HealthProbe
{
    public const string Command = "health-check";

    public static async Task<int> RunAsync(string[] args)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables("ASPNETCORE_").AddCommandLine(args).Build();
        var url = new Uri(new Uri(Address(config)), "/healthz");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await client.GetAsync(url);
            if (response.IsSuccessStatusCode)
            {
                await Console.Out.WriteLineAsync($"healthy: {url} answered {(int)response.StatusCode}");
                return 0;
            }

            await Console.Error.WriteLineAsync($"unhealthy: {url} answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"unhealthy: {url} did not answer ({StartupFailure.Reason(e)})");
        }

        return 1;
    }

    internal static string Address(IConfiguration config)
    {
        var first = (config["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            ?? (config["http_ports"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"http://localhost:{p}").FirstOrDefault()
            ?? "http://localhost:5000";

        // Kestrel's wildcards listen on every address; loopback is one of them.
        foreach (var wildcard in new[] { "://+:", "://*:", "://0.0.0.0:", "://[::]:" })
        {
            first = first.Replace(wildcard, "://localhost:", StringComparison.Ordinal);
        }

        return first;
    }
}

using Capacity.Server;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

// The container's HEALTHCHECK: a request to the server beside it, not a second server.
if (args is [HealthProbe.Command, ..])
{
    return await HealthProbe.RunAsync(args[1..]);
}

try
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = Setup.WebRoot });
    // appsettings.json ships next to the binary, but the working directory can be anywhere (`dotnet run`
    // from the repository root, a service manager). Without it every request would be logged at
    // Information. Inserted first, so environment variables and the command line still override it.
    builder.Configuration.Sources.Insert(0, new JsonConfigurationSource
    {
        Path = "appsettings.json",
        Optional = true,
        FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
    });
    builder.AddCapacity();

    await using var app = builder.Build();

    // Schema first: the engine's writer must never see an old schema.
    await app.OpenStoreAsync();

    // Before listening, so that a load balancer sends the node nothing until it runs at full speed.
    await app.WarmUpAsync();
    app.UseCapacity();
    await app.StartListeningAsync();
    await app.WaitForShutdownAsync();
    return 0;
}
catch (StartupFailure failure)
{
    await Console.Error.WriteLineAsync(failure.Message);
    return failure.ExitCode;
}
catch (Exception e) when (e is not HostAbortedException)
{
    // Not a setting the operator can fix: a bug, so the whole trace (WebApplicationFactory's own
    // HostAbortedException, which ends the entry point once it has the host, passes through).
    await Console.Error.WriteLineAsync($"Capacity stopped on an unexpected error; please report it with this trace:{Environment.NewLine}{e}");
    return StartupFailure.Unexpected;
}

/// <summary>Visible to WebApplicationFactory, which hosts the real pipeline in the tests.</summary>
public partial class Program;

using System.Data.Common;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Admin;
using Capacity.Server.Allocations;
using Capacity.Server.Capacities;
using Capacity.Server.Docs;
using Capacity.Server.Events;
using Capacity.Server.Expiry;
using Capacity.Server.Health;
using Capacity.Server.Http;
using Capacity.Server.Ledger;
using Capacity.Server.Limits;
using Capacity.Server.Metrics;
using Capacity.Server.Pricing;
using Capacity.Server.Reservations;
using Capacity.Server.Waitlists;
using Capacity.Storage.Postgres;
using Capacity.Storage.Sqlite;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server;

/// <summary>Wires the service together: configuration, the store, the engine, and the pipeline.</summary>
internal static class Setup
{
    public static void AddCapacity(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var services = builder.Services;

        var serverOptions = config.GetSection("Capacity").Get<ServerOptions>() ?? new ServerOptions();
        var limits = config.GetSection("Capacity:Limits").Get<CoreLimits>() ?? CoreLimits.Default;
        var engineOptions = config.GetSection("Capacity:Engine").Get<EngineOptions>() ?? new EngineOptions();
        var dataDirectory = config["Storage:DataDirectory"] ?? "./data";
        var rateLimits = config.GetSection("Capacity:RateLimit").Get<RateLimitOptions>() ?? new RateLimitOptions();
        var auth = config.GetSection("Auth").Get<AuthOptions>() ?? new AuthOptions();

        services.AddSingleton(serverOptions);
        services.AddSingleton(limits);
        services.AddSingleton(engineOptions);
        services.AddSingleton(TimeProvider.System);
        // The container holds the store as its read side only, so no endpoint can open a write
        // transaction; the engine and the sweeper are built here with its write side (WriteSide).
        services.AddSingleton<IReadStore>(_ => CreateStore(config, dataDirectory));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<CommandEngine>(sp, WriteSide(sp)));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<ExpirySweeper>(sp, WriteSide(sp)));
        services.AddSingleton<Writes>();
        services.AddSingleton<EventFeeds>();
        services.AddSingleton<IProblemDetailsService, ProblemJson>();
        services.AddSingleton<MetricsCollector>();
        services.AddApiDocs();
        services.AddRateLimits(rateLimits);
        services.AddHostedService<SweepService>();
        services.AddSingleton(sp => new Authenticator(
            sp.GetRequiredService<IReadStore>(),
            ResolveAdminKey(auth.AdminKey, dataDirectory),
            auth.JwtSigningKey));

        services.ConfigureHttpJsonOptions(o => AppJson.ConfigureHost(o.SerializerOptions));
    }

    public static void UseCapacity(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = HandleException });
        app.UseStatusCodePages(async context =>
        {
            var response = context.HttpContext.Response;
            ProblemHttpResult problem = response.StatusCode switch
            {
                404 => ApiErrors.NotFound($"No route matches {context.HttpContext.Request.Path}."),
                405 => ApiErrors.MethodNotAllowed($"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}."),
                413 => ApiErrors.PayloadTooLarge(app.Services.GetRequiredService<ServerOptions>().MaxBodyBytes),
                415 => ApiErrors.UnsupportedMediaType(),
                _ => ApiErrors.Status(response.StatusCode),
            };
            await problem.ExecuteAsync(context.HttpContext);
        });
        // The dashboard is static files, no build step; it signs in with a tenant key in the browser.
        // Scoped to /dashboard so that no API request pays for a file-system lookup.
        var dashboard = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.Combine(app.Environment.WebRootPath, "dashboard"));
        app.MapGet("/dashboard", () => TypedResults.Redirect("/dashboard/")).ExcludeFromDescription();
        app.UseDefaultFiles(new DefaultFilesOptions { RequestPath = "/dashboard", FileProvider = dashboard });
        app.UseStaticFiles(new StaticFileOptions { RequestPath = "/dashboard", FileProvider = dashboard });
        app.UseRouting();
        app.Use(ServerMetrics.MeasureAsync);
        app.UseMiddleware<AuthMiddleware>();
        app.UseRateLimiter();

        app.MapHealth();
        app.MapCapacities();
        app.MapEvents();
        app.MapReservations();
        app.MapPricing();
        app.MapAllocations();
        app.MapLimits();
        app.MapWaitlists();
        app.MapLedger();
        app.MapAdmin();
        app.MapMetrics();
        app.MapApiDocs();

        // Created now, not at the first scrape, so it counts from start-up.
        app.Services.GetRequiredService<MetricsCollector>();
    }

    /// <summary>Creates or upgrades the store's schema; run before anything reads or writes.</summary>
    public static Task MigrateStoreAsync(this WebApplication app) => WriteSide(app.Services).MigrateAsync(CancellationToken.None);

    /// <summary>
    /// The write side of the one store the container holds (as <see cref="IReadStore"/>): every store
    /// class implements both. Taken here, in the composition root, and nowhere else.
    /// </summary>
    private static IWriteStore WriteSide(IServiceProvider services) => (IWriteStore)services.GetRequiredService<IReadStore>();

    private static IReadStore CreateStore(IConfiguration config, string dataDirectory)
    {
        var provider = config["Storage:Provider"] ?? "sqlite";
        return provider.ToLowerInvariant() switch
        {
            "sqlite" => new SqliteStore(config["Storage:Sqlite:Path"] ?? Path.Combine(dataDirectory, "capacity.db")),
            "postgres" => new PostgresStore(config["Storage:Postgres:ConnectionString"]
                ?? throw new InvalidOperationException("Storage:Provider is 'postgres' but Storage:Postgres:ConnectionString is not set.")),
            _ => throw new InvalidOperationException($"Storage:Provider '{provider}' is not known; use 'sqlite' or 'postgres'."),
        };
    }

    /// <summary>
    /// The configured admin key, else the one saved in the data directory, else a new one, saved
    /// there (readable by the owner only) and printed this once.
    /// </summary>
    private static string ResolveAdminKey(string? configured, string dataDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var file = Path.Combine(dataDirectory, "admin.key");
        if (File.Exists(file))
        {
            return File.ReadAllText(file).Trim();
        }

        Directory.CreateDirectory(dataDirectory);
        var key = Authenticator.NewKey(Authenticator.AdminKeyPrefix);
        File.WriteAllText(file, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        Console.WriteLine($"Generated the admin key, saved in {Path.GetFullPath(file)}:");
        Console.WriteLine(key);
        return key;
    }

    private static async Task HandleException(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        ProblemHttpResult problem = error switch
        {
            BadHttpRequestException { StatusCode: 413 } => ApiErrors.PayloadTooLarge(context.RequestServices.GetRequiredService<ServerOptions>().MaxBodyBytes),
            BadHttpRequestException => ApiErrors.Validation("request", "The request could not be read."),
            DbException or TimeoutException or InvalidOperationException { InnerException: DbException } =>
                ApiErrors.ServiceUnavailable("The database is not answering; retry shortly."),
            _ => ApiErrors.Internal(),
        };
        if (problem.StatusCode == 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await problem.ExecuteAsync(context);
    }
}

using System.Diagnostics.Metrics;
using System.Text.Json;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Admin;
using Capacity.Server.Allocations;
using Capacity.Server.Capacities;
using Capacity.Server.Credentials;
using Capacity.Server.Docs;
using Capacity.Server.Events;
using Capacity.Server.Expiry;
using Capacity.Server.Health;
using Capacity.Server.Http;
using Capacity.Server.Ledger;
using Capacity.Server.Limits;
using Capacity.Server.Memory;
using Capacity.Server.Metrics;
using Capacity.Server.Pricing;
using Capacity.Server.Reservations;
using Capacity.Server.Stats;
using Capacity.Server.Views;
using Capacity.Server.Waitlists;
using Capacity.Server.Webhooks;
using Capacity.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Capacity.Server;

/// <summary>Wires the service together: configuration, the store, the engine, and the pipeline.</summary>
internal static class Setup
{
    /// <summary>
    /// The web root (the dashboard), looked up next to the binary, not in the working directory, which
    /// `dotnet run` sets to wherever it was typed.
    /// </summary>
    public static readonly string WebRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");

    public static void AddCapacity(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var services = builder.Services;

        // Every setting bound and checked here, before anything opens: a typo or a value out of range
        // stops the start with the setting's name instead of being ignored or failing later.
        var settings = Settings.Read(config);
        var store = StoreSettings.From(settings.Storage);
        var auth = settings.Auth;

        services.AddSingleton(settings);
        services.AddSingleton(settings.Server);

        // "Server: Kestrel" tells a scanner what to try and a client nothing it needs.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        services.AddSingleton(settings.Limits);
        services.AddSingleton(settings.Engine);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<OutageLog>();
        services.AddSingleton(store);
        // The container holds the store as its read side only, so no endpoint can open a write
        // transaction; the engine and the sweeper are built here with its write side (WriteSide).
        services.AddSingleton<IReadStore>(sp => store.Open(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IMeterFactory>()));
        services.AddSingleton(settings.Webhooks);
        services.AddSingleton(settings.Metrics);
        services.AddSingleton(sp => (IWebhookStore)sp.GetRequiredService<IReadStore>());
        services.AddSingleton(sp =>
        {
            var engine = ActivatorUtilities.CreateInstance<CommandEngine>(sp, WriteSide(sp));
            engine.RenderNotice = RenderNotice;
            return engine;
        });
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<ExpirySweeper>(sp, WriteSide(sp)));
        services.AddSingleton<Writes>();
        services.AddSingleton<EventFeeds>();
        services.AddSingleton<IProblemDetailsService, ProblemJson>();
        services.AddSingleton<MetricsCollector>();
        services.AddApiDocs();
        services.AddSingleton(settings.RateLimit);
        services.AddSingleton<RateLimits>();
        services.AddSingleton(settings.Quotas);
        services.AddSingleton<TenantQuotas>();
        services.AddHostedService(sp => sp.GetRequiredService<TenantQuotas>());
        services.AddHostedService<SweepService>();
        services.AddHostedService<UsageFoldService>();
        services.AddHostedService<MemoryTrim>();
        services.AddHostedService<WebhookDispatcher>();
        services.AddSingleton(auth);
        services.AddSingleton<AuthFailures>();
        services.AddSingleton(sp => new Authenticator(
            sp.GetRequiredService<IReadStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<AuthFailures>(),
            ResolveAdminKey(auth.AdminKey, store.DataDirectory),
            auth));
        services.AddSingleton<KeyUseFlush>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyUseFlush>());

        services.ConfigureHttpJsonOptions(o => AppJson.ConfigureHost(o.SerializerOptions));
        AddTracing(services, settings.Server.OtlpEndpoint ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));

        // The host logs a failed start as an error with the exception's whole trace; Program prints
        // one sentence instead (StartupFailure), or the trace itself when it is a bug. What the host
        // logs at Critical (a background service that stopped it) is still logged.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

        // The host's request logging writes "Request starting/finished" lines, which RequestLog's one line
        // per request replaces, and while its category is on at any level the host also opens a log scope and
        // starts an Activity for every request, for nobody when no collector is named (with one, tracing's own
        // listener still starts it). RequestLog's scope carries the request id instead (RequestScope).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
    }

    /// <summary>
    /// OpenTelemetry traces, only when a collector is named: each request's span (ASP.NET Core's), its
    /// command's span through the engine and the batch's (<see cref="CommandEngine.Tracing"/>), sent over
    /// OTLP/HTTP. Without a collector nothing listens, and the engine captures nothing.
    /// </summary>
    private static void AddTracing(IServiceCollection services, string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return;
        }

        // OTLP/HTTP posts traces to {endpoint}/v1/traces; a base address is what operators configure.
        var traces = new Uri(endpoint.TrimEnd('/').EndsWith("/v1/traces", StringComparison.Ordinal) ? endpoint : endpoint.TrimEnd('/') + "/v1/traces");
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("capacity", serviceVersion: typeof(Setup).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing => tracing
                .AddSource(CommandEngine.Tracing.Name)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = traces;
                    otlp.Protocol = OtlpExportProtocol.HttpProtobuf;
                    otlp.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
                }));
    }

    public static void UseCapacity(this WebApplication app)
    {
        // Outermost, so its line and its metrics have the final status, whatever answered.
        app.UseMiddleware<RequestLog>();
        app.Use(SecurityHeaders.ApplyAsync);
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = HandleException,
            // A read that fails because the database is down is the outage's to log (HandleException),
            // not a trace per request from the middleware.
            SuppressDiagnosticsCallback = c => OutageLog.IsStoreFailure(c.Exception),
        });
        app.Use(StatusProblems.ApplyAsync);
        // A HEAD answer has no body, whatever writes one: Kestrel drops it, and so does any other server here.
        app.Use((context, next) =>
        {
            if (HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.Body = Stream.Null;
            }

            return next(context);
        });
        // The dashboard is static files, no build step; it signs in with a tenant key in the browser.
        // Branched off by path so that no API request pays for the files middleware's path matching.
        var dashboard = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.Combine(app.Environment.WebRootPath, "dashboard"));
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/dashboard"), files =>
        {
            // The files middleware's own redirect to /dashboard/ names the request's Host header (an open
            // redirect for anyone who can set it); this one answers with a path, the query kept.
            files.Use((context, next) =>
            {
                if (context.Request.Path.Value == "/dashboard")
                {
                    context.Response.Redirect("/dashboard/" + context.Request.QueryString);
                    return Task.CompletedTask;
                }

                return next(context);
            });
            files.UseDefaultFiles(new DefaultFilesOptions { RequestPath = "/dashboard", FileProvider = dashboard, RedirectToAppendTrailingSlash = false });
            files.UseStaticFiles(new StaticFileOptions { RequestPath = "/dashboard", FileProvider = dashboard });
        });
        app.UseRouting();
        app.UseMiddleware<AuthMiddleware>();
        app.Use(RepeatedQuery.RefuseAsync);
        app.UseMiddleware<HeavyReadGate>();

        app.MapIndex();
        app.MapHealth();
        app.MapCapacities();
        app.MapEvents();
        app.MapCredential();
        app.MapReservations();
        app.MapPricing();
        app.MapAllocations();
        app.MapLimits();
        app.MapWaitlists();
        app.MapWebhooks();
        app.MapLedger();
        app.MapStats();
        app.MapAdmin();
        app.MapMetrics();
        app.MapApiDocs();
        app.MapProblemPages();

        // Created now, not at the first scrape, so it counts from start-up.
        app.Services.GetRequiredService<MetricsCollector>();

        // A live stream never ends by itself, so on SIGTERM the server would wait for each one until
        // its shutdown timeout (30 s, Kubernetes' whole grace period) and a deploy would wait on a
        // viewer. Streams end as soon as stopping begins; other requests in flight, and the batches
        // they wait on, still finish and commit before the server stops, and the engine is disposed
        // only after that.
        var feeds = app.Services.GetRequiredService<EventFeeds>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            app.Logger.LogInformation("Stopping: ending {Feeds} live event feeds, finishing the requests in flight", feeds.Active);
            feeds.Dispose();
        });
        app.Lifetime.ApplicationStopped.Register(() => app.Logger.LogInformation("Stopped"));
    }

    private const int StartAttempts = 5;
    private static readonly TimeSpan StartRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Says what is starting, then opens the store and creates or upgrades its schema (before anything
    /// reads or writes) and settles the admin key. A failure an operator can fix becomes a
    /// <see cref="StartupFailure"/> naming the setting.
    /// </summary>
    public static async Task OpenStoreAsync(this WebApplication app)
    {
        var store = app.Services.GetRequiredService<StoreSettings>();
        app.Logger.LogInformation("Capacity {Version} starting in {Environment}; store: {Store}", IndexApi.Version, app.Environment.EnvironmentName, store.Describe());
        try
        {
            store.EnsureWritable(adminKeyConfigured: !string.IsNullOrWhiteSpace(app.Services.GetRequiredService<Settings>().Auth.AdminKey));
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await WriteSide(app.Services).MigrateAsync(CancellationToken.None);
                    break;
                }
                catch (Exception e) when (attempt < StartAttempts && store.IsTransient(e))
                {
                    // A database still starting, or slow to start a backend on a busy host, is waited
                    // for a little (each try is one transaction, so a failed one leaves nothing), rather
                    // than the node exiting for a service manager to start it again at once.
                    app.Logger.LogWarning(
                        "The database is not answering yet ({Reason}); trying again in {Seconds} s ({Attempt} of {Attempts})",
                        StartupFailure.Reason(e), StartRetryDelay.TotalSeconds, attempt, StartAttempts);
                    await Task.Delay(StartRetryDelay);
                }
            }

            app.Services.GetRequiredService<Authenticator>();
        }
        catch (Exception e) when (store.Explain(e) is { } failure)
        {
            throw failure;
        }

        WarnOfOpenFiles(app.Logger, store);
    }

    /// <summary>
    /// New files and directories are made the server's user's alone (<see cref="OwnerOnly"/>); ones that
    /// already existed keep their modes, which an installation from before that, or a hand, may have left
    /// open to every user of the machine. Said at each start rather than changed: a group that reads the
    /// database for backups may be meant.
    /// </summary>
    private static void WarnOfOpenFiles(ILogger logger, StoreSettings store)
    {
        var paths = new List<string> { store.DataDirectory, Path.Combine(store.DataDirectory, "admin.key") };
        if (store.SqlitePath is { } database)
        {
            paths.AddRange([Path.GetDirectoryName(Path.GetFullPath(database))!, database, database + "-wal", database + "-shm"]);
        }

        foreach (var path in paths.Select(Path.GetFullPath).Distinct())
        {
            if (OwnerOnly.OpenToOthers(path) is { } mode)
            {
                var owned = Directory.Exists(path) ? "0700" : "0600";
                logger.LogWarning(
                    "{Path} is open to other users of this machine (mode {Mode}), and it holds tickets, holds or keys: chmod {Owned} it unless that is meant",
                    path, OwnerOnly.Octal(mode), owned);
            }
        }
    }

    /// <summary>Starts listening, then says where: the URLs, the dashboard and the API docs.</summary>
    public static async Task StartListeningAsync(this WebApplication app)
    {
        try
        {
            await app.StartAsync();
        }
        catch (IOException e) when (e.InnerException is AddressInUseException)
        {
            // The services that did start (the sweeper) are stopped as on any shutdown: disposed
            // without it, the sweeper would report its cancellation as a crash.
            await app.StopAsync();
            throw new StartupFailure(
                StartupFailure.InUse,
                $"{StartupFailure.Reason(e)}; stop what listens there, or choose another address with --urls (or ASPNETCORE_URLS).");
        }

        var urls = app.Urls.ToList();
        var first = urls.FirstOrDefault()?.TrimEnd('/') ?? "";
        app.Logger.LogInformation(
            "Listening on {Urls}; dashboard at {Dashboard}, API docs at {Docs}, OpenAPI document at {OpenApi}, index at {Index}",
            string.Join(", ", urls), first + "/dashboard/", first + "/docs", first + "/openapi/v1.json", first + "/");
    }

    /// <summary>A notice's subject as the API shows it: the webhook payload's <c>data</c>, rendered by the engine in the batch.</summary>
    private static byte[] RenderNotice(Notice notice)
    {
        switch (notice.Subject)
        {
            case CapacityView capacity:
                var response = CapacityResponse.From(capacity, notice.At);
                if (notice.Reason is null)
                {
                    return JsonSerializer.SerializeToUtf8Bytes(response, AppJson.Default.CapacityResponse);
                }

                // A state change says why: "activated", "deactivated", "updated", "tier_opened", "sold_out".
                var node = JsonSerializer.SerializeToNode(response, AppJson.Default.CapacityResponse)!.AsObject();
                node["change_reason"] = notice.Reason;
                return JsonSerializer.SerializeToUtf8Bytes(node, AppJson.Default.JsonObject);
            case Reservation reservation:
                return JsonSerializer.SerializeToUtf8Bytes(ReservationResponse.From(reservation, notice.At), AppJson.Default.ReservationResponse);
            case AllocationView allocation:
                return JsonSerializer.SerializeToUtf8Bytes(AllocationResponse.From(allocation), AppJson.Default.AllocationResponse);
            case WaitlistEntryView entry:
                return JsonSerializer.SerializeToUtf8Bytes(WaitlistEntryResponse.From(entry), AppJson.Default.WaitlistEntryResponse);
            default:
                throw new ArgumentOutOfRangeException(nameof(notice), notice.Subject.GetType().Name, "No rendering for this subject.");
        }
    }

    /// <summary>
    /// The write side of the one store the container holds (as <see cref="IReadStore"/>): every store
    /// class implements both. Taken here, in the composition root, and nowhere else.
    /// </summary>
    private static IWriteStore WriteSide(IServiceProvider services) => (IWriteStore)services.GetRequiredService<IReadStore>();

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

        OwnerOnly.CreateDirectory(dataDirectory);
        var key = Authenticator.NewKey(Authenticator.AdminKeyPrefix);
        OwnerOnly.WriteNew(file, key);

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
            { } e when OutageLog.IsStoreFailure(e) => ApiErrors.ServiceUnavailable("The database is not answering; retry shortly."),
            _ => ApiErrors.Internal(),
        };
        if (problem.StatusCode == 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        if (error is not null && OutageLog.IsStoreFailure(error))
        {
            context.RequestServices.GetRequiredService<OutageLog>().Failed("read", error);
        }

        await problem.ExecuteAsync(context);
    }
}

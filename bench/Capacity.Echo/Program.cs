using System.Text.Json;
using Capacity.Echo;

// The baseline bench/run.sh divides the server's HTTP figures by: the two routes the load hits, on
// Kestrel and minimal APIs as the server runs them, answering bodies of the same shape and size while
// doing no work. A hold's request body is read and parsed (the framework's JSON binding), as any real
// endpoint must; nothing is authenticated, decided, stored or logged per request.
//
// Matched to the server so that the ratio measures the server's own work: the Web SDK (server GC),
// InvariantGlobalization (the repository's Directory.Build.props), Kestrel's defaults (the server sets
// no Kestrel option), the host's JSON options made as the server makes them (snake_case, a
// source-generated context first in the chain), logging on but quiet below Warning (the server's
// appsettings.json keeps per-request lines at Warning too). Not matched, on purpose: the server's
// middleware (request log, security headers, authentication, rate limiter, metrics), which is part of
// what a request costs there.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.TypeInfoResolverChain.Insert(0, EchoJson.Default);
});

await using var app = builder.Build();
app.MapPost("/capacity/{id:guid}/reserve", Answers.Hold);
app.MapGet("/capacity/{id:guid}", Answers.Read);
// A webhook receiver for the rules scenario's subscriber: alive for the whole run, unlike a load
// generator's own listener, and as cheap as anything here.
app.MapPost("/hook", () => TypedResults.NoContent());
app.MapGet("/healthz", () => TypedResults.Ok());
await app.RunAsync();

using System.Security.Cryptography;
using System.Text;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Metrics;

/// <summary>Who may scrape <c>/metrics</c>, bound from the <c>Metrics</c> section.</summary>
internal sealed class MetricsOptions
{
    /// <summary>
    /// When set, a scrape must send <c>Authorization: Bearer &lt;key&gt;</c> (Prometheus' <c>authorization</c>
    /// setting); unset, <c>/metrics</c> is open, for a scraper on a private network.
    /// </summary>
    public string? Key { get; set; }
}

/// <summary>The Prometheus scrape of every <c>Capacity.*</c> meter (<see cref="MetricsCollector"/>).</summary>
internal static class MetricsApi
{
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", Scrape)
            .RequireAccess(Access.Anonymous)
            .WithTags("Operations")
            .WithSummary("Prometheus metrics")
            .Produces<string>(200, "text/plain")
            .ProducesProblem(401)
            .ProducesProblem(429)
            .WithDescription(
                "Requests by route and status, commands (holds by outcome), batch sizes, commit latency, queue depth, active holds, expiry lag, refused credentials by reason. "
                + "With `Metrics:Key` set, a scrape sends `Authorization: Bearer <key>` (401 otherwise; a wrong key counts against the address's "
                + "`Auth:FailedAttemptsPerMinute`, past which it is answered 429 `TOO_MANY_AUTH_FAILURES`).");

    private static Results<ContentHttpResult, ProblemHttpResult> Scrape(HttpContext context, MetricsCollector collector, MetricsOptions options, AuthFailures failures)
    {
        if (options.Key is { Length: > 0 } key && RefusalOf(context.Request.Headers.Authorization.ToString(), key) is var refusal and not Refusal.None)
        {
            // A wrong metrics key is a guess at a secret like a wrong API key: counted by reason, and by
            // the same budget of the address, so guessing it here buys no more tries than guessing a key.
            var throttle = failures.Record(context.Connection.RemoteIpAddress, refusal);
            if (throttle.RetryAfterSeconds is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return ApiErrors.TooManyAuthFailures(retryAfter);
            }

            context.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiErrors.Unauthorized("/metrics needs Authorization: Bearer <Metrics:Key>.");
        }

        return TypedResults.Text(collector.Scrape(), "text/plain; version=0.0.4; charset=utf-8");
    }

    /// <summary>
    /// Why the header does not present the key, or <see cref="Refusal.None"/>: read as every other route
    /// reads a bearer token (the scheme in any case), and the key compared in constant time, by its hash
    /// (of a fixed length), so the answer's timing says nothing about the key or its length.
    /// </summary>
    private static Refusal RefusalOf(string header, string key)
    {
        var token = Authenticator.BearerToken(header, out var refusal);
        if (refusal != Refusal.None)
        {
            return refusal;
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(token.ToString()));
        return CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(key))) ? Refusal.None : Refusal.WrongMetricsKey;
    }
}

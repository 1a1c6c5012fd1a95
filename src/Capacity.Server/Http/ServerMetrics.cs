using System.Diagnostics.Metrics;

namespace Capacity.Server.Http;

/// <summary>The server's own instruments; the engine publishes its own (batch size, commit latency, queue depth, commands).</summary>
internal static class ServerMetrics
{
    public static readonly Meter Meter = new("Capacity.Server");

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("capacity.http.requests", description: "HTTP requests by route, method and status");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("capacity.http.request_duration", "ms", "HTTP request duration by route");

    private static long _activeHolds;
    private static double _expiryLagSeconds;

    static ServerMetrics()
    {
        Meter.CreateObservableGauge("capacity.holds.active", () => Interlocked.Read(ref _activeHolds), description: "Active holds in the store");
        Meter.CreateObservableGauge("capacity.expiry.lag", () => Volatile.Read(ref _expiryLagSeconds), "s", "How long the oldest due hold has waited to be expired");
    }

    public static void SetHoldStats(long active, double expiryLagSeconds)
    {
        Interlocked.Exchange(ref _activeHolds, active);
        Volatile.Write(ref _expiryLagSeconds, expiryLagSeconds);
    }

    /// <summary>
    /// Counts and times a request by its route template (never the raw path, whose ids would explode
    /// the series). Called by <see cref="RequestLog"/> once the answer is final, so that one
    /// middleware, not two, waits on every request.
    /// </summary>
    public static void Record(HttpContext context, string route, double elapsedMs)
    {
        Requests.Add(1, new("route", route), new("method", context.Request.Method), new("status", StatusText(context.Response.StatusCode)));
        Duration.Record(elapsedMs, new KeyValuePair<string, object?>("route", route));
    }

    private static readonly string[] Statuses = [.. Enumerable.Range(0, 600).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private static string StatusText(int status) => status is >= 0 and < 600 ? Statuses[status] : "other";
}

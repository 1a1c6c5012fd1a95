using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing;

namespace Capacity.Server.Http;

/// <summary>
/// Counts and times every request (<see cref="ServerMetrics.Record"/>) and writes one log line per
/// request (category <c>Capacity.Requests</c>): method, route template, status,
/// duration, tenant and request id; at Information, or at Warning for a 5xx so a failure is logged
/// even where Information is off. appsettings.json turns the Information lines off by default: a JSON
/// console line per request was a measurable share of a request's cost under load (docs/performance.md),
/// so an operator turns them on (<c>Logging:LogLevel:Capacity.Requests=Information</c>) when wanted.
/// Nothing is formatted unless the line is written.
/// <para>
/// The request id is the caller's <c>X-Request-Id</c> when it sends a sane one, else the trace id of
/// its <c>traceparent</c>, else the server's own; it becomes the request's <c>TraceIdentifier</c> and
/// is echoed in the answer's <c>X-Request-Id</c>, so a client can quote it and an operator find it.
/// </para>
/// </summary>
internal sealed partial class RequestLog(RequestDelegate next, ILoggerFactory loggers)
{
    public const string Header = "X-Request-Id";
    public const string Category = "Capacity.Requests";

    /// <summary>Longer ids, or ids with other characters, are not the caller's to choose: they are replaced, not echoed.</summary>
    private const int MaxIdLength = 128;

    private readonly ILogger _logger = loggers.CreateLogger(Category);

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var id = RequestId(context);
        context.TraceIdentifier = id;
        context.Response.Headers[Header] = id;
        var scope = new RequestScope(id);
        context.Items[RequestScope.ItemKey] = scope;
        using var logScope = _logger.BeginScope(scope);
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.Response.StatusCode;
            // The exception handler clears the endpoint before it answers a failure; its feature keeps it.
            var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
            var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            ServerMetrics.Record(context, route, elapsedMs);
            var level = status >= 500 ? LogLevel.Warning : LogLevel.Information;
            if (_logger.IsEnabled(level))
            {
                var tenant = context.Items[TenantCaller.ItemKey] is TenantCaller caller ? caller.TenantId : (Guid?)null;
                Write(_logger, level, context.Request.Method, route, status, elapsedMs, tenant, id);
            }
        }
    }

    private static string RequestId(HttpContext context)
    {
        var headers = context.Request.Headers;
        if (headers[Header] is [{ } sent] && IsSane(sent))
        {
            return sent;
        }

        if (headers.TraceParent is [{ } traceparent] && ActivityContext.TryParse(traceparent, null, out var trace))
        {
            return trace.TraceId.ToHexString();
        }

        return context.TraceIdentifier;
    }

    private static bool IsSane(string id) => id.Length is > 0 and <= MaxIdLength && !id.AsSpan().ContainsAnyExceptInRange('!', '~');

    [LoggerMessage(EventId = 1, Message = "{Method} {Route} {Status} in {ElapsedMs:0.0} ms, tenant {TenantId}, request {RequestId}")]
    private static partial void Write(ILogger logger, LogLevel level, string method, string route, int status, double elapsedMs, Guid? tenantId, string requestId);
}

/// <summary>
/// The log scope of one request: every line written while it runs carries its <c>RequestId</c> (the
/// caller's, as <see cref="RequestLog"/> chose it) and, once the caller is known, its <c>TenantId</c>.
/// <para>
/// This one scope replaces two: the host's (which named the host's own request id, not the caller's
/// <c>X-Request-Id</c>, and came with an <see cref="Activity"/> per request) and a second one opened by
/// authentication for the tenant, each a change of the request's execution context. Authentication
/// fills in the tenant here instead (<see cref="SetTenant"/>), before anything after it runs.
/// </para>
/// </summary>
internal sealed class RequestScope(string requestId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string ItemKey = "Capacity.RequestScope";

    // Boxed, so that a line written on another thread reads the whole value or none of it.
    private object? _tenantId;

    public static RequestScope? Of(HttpContext context) => context.Items[ItemKey] as RequestScope;

    public void SetTenant(Guid tenantId) => Volatile.Write(ref _tenantId, tenantId);

    public int Count => Volatile.Read(ref _tenantId) is null ? 1 : 2;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("RequestId", requestId),
        1 when Volatile.Read(ref _tenantId) is { } tenant => new("TenantId", tenant),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return new("RequestId", requestId);
        if (Volatile.Read(ref _tenantId) is { } tenant)
        {
            yield return new("TenantId", tenant);
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => Volatile.Read(ref _tenantId) is { } tenant ? $"RequestId={requestId}, TenantId={tenant}" : $"RequestId={requestId}";
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace Capacity.Server.Http;

/// <summary>A read whose cost grows with the tenant's data (a whole event, a list, a page of the ledger): see <see cref="HeavyReadGate"/>.</summary>
internal sealed record HeavyReadMetadata;

internal static class HeavyReadExtensions
{
    public static TBuilder HeavyRead<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new HeavyReadMetadata());
}

/// <summary>
/// Lets each tenant run at most <see cref="QuotaOptions.HeavyReadsPerTenant"/> heavy reads at once on
/// a node; the others wait their turn in order, holding no thread. A read of a 10,000-capacity event
/// takes about a tenth of a second of a core, and SQLite reads it on the request's thread: 64 of them
/// at once took every thread and core, and another tenant's one-row read waited six seconds. Taking
/// turns inside the tenant keeps what it costs the others to its share, however many it sends. The
/// turn covers the answer's writing too, which is most of a big read's cost.
/// </summary>
internal sealed class HeavyReadGate(RequestDelegate next, QuotaOptions options)
{
    private static readonly TimeSpan MaxHoldBack = TimeSpan.FromSeconds(1);

    private static void ReleaseLater(SemaphoreSlim turns, TimeSpan after)
    {
        if (after < TimeSpan.FromMilliseconds(1))
        {
            turns.Release();
            return;
        }

        _ = Task.Delay(after).ContinueWith(_ => turns.Release(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _turns = new();

    public Task InvokeAsync(HttpContext context)
    {
        // Every other request passes straight through, without a state machine of its own to resume.
        return context.GetEndpoint()?.Metadata.GetMetadata<HeavyReadMetadata>() is null
            || context.Items[TenantCaller.ItemKey] is not TenantCaller caller
            ? next(context)
            : TakeTurnAsync(context, caller);
    }

    private async Task TakeTurnAsync(HttpContext context, TenantCaller caller)
    {
        var turns = _turns.GetOrAdd(caller.TenantId, _ => new SemaphoreSlim(options.HeavyReadsPerTenant));
        await turns.WaitAsync(context.RequestAborted);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            // A turn is given back only after as long again as it took (the answer has gone by then):
            // back to back, a tenant's heavy reads kept a core busy, and on PostgreSQL, whose server
            // shares the cores, another tenant's writes waited for it. Each turn now runs at most half
            // the time; a tenant's occasional heavy read does not notice.
            // At most a second: a read that waited on the disk or a lock, not a core, is not held against it for long.
            ReleaseLater(turns, TimeSpan.FromTicks(Math.Min(Stopwatch.GetElapsedTime(started).Ticks, MaxHoldBack.Ticks)));
        }
    }
}

using System.Collections.Concurrent;

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
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _turns = new();

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<HeavyReadMetadata>() is null
            || context.Items[TenantCaller.ItemKey] is not TenantCaller caller)
        {
            await next(context);
            return;
        }

        var turns = _turns.GetOrAdd(caller.TenantId, _ => new SemaphoreSlim(options.HeavyReadsPerTenant));
        await turns.WaitAsync(context.RequestAborted);
        try
        {
            await next(context);
        }
        finally
        {
            turns.Release();
        }
    }
}

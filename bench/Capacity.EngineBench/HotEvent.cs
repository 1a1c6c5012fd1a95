using Capacity.Core;
using Capacity.Engine;

namespace Capacity.EngineBench;

/// <summary>
/// One hot event: a limited pool with a capped child (limited, drawing from the pool) and a shared
/// child (unlimited, drawing from the pool), created through the engine like any other command.
/// Every hold charges two nodes, so every hold writes one reservation and two ledger entries.
/// </summary>
internal sealed record HotEvent(Guid Tenant, Guid Pool, Guid Capped, Guid Shared)
{
    public static async Task<HotEvent> CreateAsync(CommandEngine engine, Guid tenant, int poolTotal, int cappedTotal)
    {
        var pool = await CreateAsync(engine, tenant, "Pool", poolTotal, []);
        var capped = await CreateAsync(engine, tenant, "Capped", cappedTotal, [pool]);
        var shared = await CreateAsync(engine, tenant, "Shared", null, [pool]);
        return new HotEvent(tenant, pool, capped, shared);
    }

    /// <summary>Holds alternate between the two children, so both kinds of node are on the path.</summary>
    public Guid Child(long n) => (n & 1) == 0 ? Capped : Shared;

    public PlaceHold Hold(long n, int minutes) => new(Tenant, Guid.CreateVersion7(), [new HoldItem(Child(n), 1, null)], minutes);

    /// <summary>A hold naming a buyer: four holds a buyer, each key 16 hex digits spread as hashed keys are.</summary>
    public PlaceHold KeyedHold(long n, int minutes) => Hold(n, minutes) with { BuyerKey = ((ulong)(n / 4) * 0x9E3779B97F4A7C15UL).ToString("x16") };

    private static async Task<Guid> CreateAsync(CommandEngine engine, Guid tenant, string name, int? total, Guid[] parents)
    {
        var id = Guid.CreateVersion7();
        var result = await engine.SubmitAsync(new CreateCapacity(tenant, id, "bench-hot", null, name, null, total, parents, true, null));
        if (result.Outcome?.Code != OutcomeCode.Ok)
        {
            throw new InvalidOperationException($"Creating {name} answered {result.Status} {result.Outcome?.Code} {result.Outcome?.Detail}");
        }

        return id;
    }
}

/// <summary>Real time, moved forward on demand: expiry is measured without waiting for holds to lapse.</summary>
internal sealed class ShiftedClock : TimeProvider
{
    private long _shift;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddTicks(Interlocked.Read(ref _shift));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _shift, by.Ticks);
}

using Capacity.Core;

namespace Capacity.Engine;

/// <summary>
/// Refuses a hold that cannot fit before it is queued, decided by the core on a copy of the committed
/// rows. Exists only for a store with <see cref="ICommittedRows"/>. A refusal changes nothing, so
/// deciding it against the last committed state is as if it ran in a batch of its own right now:
/// holds and releases still queued have not taken effect yet. That is what makes an on-sale's
/// thousands of "sold out" cost no queue slot, no batch and no commit. Keyed requests still queue,
/// because their refusal must be stored for replay (the engine does not ask here for them).
/// </summary>
internal sealed class EarlyRefusal(ICommittedRows rows, TimeProvider time, CoreLimits limits)
{
    // The scratch working set of the calling thread: callers run on many threads at once, and a
    // refusal must not allocate a working set each time.
    [ThreadStatic]
    private static WorkingSet? t_scratch;

    /// <summary>The answer of a hold that cannot fit; null when it might fit, or when the rows are not all in memory.</summary>
    public Outcome? Refuse(PlaceHold hold)
    {
        var ids = new Guid[hold.Items.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = hold.Items[i].CapacityId;
        }

        if (rows.GetCommittedCapacities(ids) is not { } nodes)
        {
            return null;
        }

        // Only an inactive node, or one with less headroom than the whole hold, can refuse it. With
        // neither, the hold fits as far as the committed rows go (the usual case during an on-sale
        // until the last tickets), and deciding it here would be work thrown away.
        var total = 0L;
        foreach (var item in hold.Items)
        {
            total += item.Quantity;
        }

        if (!nodes.Any(n => !n.IsActive || n.Headroom < total))
        {
            return null;
        }

        // A priced item can never get past the price check here, nor an item drawn from an allocation
        // past the allocation check (no prices or allocations are loaded), so such a hold always goes
        // to the writer; the two refusals kept below come after every other check.
        var ws = t_scratch ??= new WorkingSet();
        ws.Clear();
        foreach (var node in nodes)
        {
            ws.Load(node);
        }

        var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        Outcome outcome;
        try
        {
            outcome = Decider.Decide(ws, hold, now, limits);
        }
        catch (MissingRowException)
        {
            // The hold fits as far as the counters go and a buyer limit covers it: the copy has no
            // limits, so only the batch can decide.
            ws.Clear();
            return null;
        }

        ws.Clear();
        return outcome.Code is OutcomeCode.InsufficientCapacity or OutcomeCode.CapacityInactive ? outcome : null;
    }
}

using Capacity.Core;

namespace Capacity.Engine;

/// <summary>
/// Refuses a hold that cannot fit before it is queued, decided by the core on a copy of the committed
/// rows. Exists only for a store with <see cref="ICommittedRows"/>. A refusal changes nothing, so
/// deciding it against the last committed state is as if it ran in a batch of its own right now:
/// holds and releases still queued have not taken effect yet. That is what makes an on-sale's
/// thousands of "sold out" cost no queue slot, no batch and no commit. Keyed requests still queue,
/// because their refusal must be stored for replay (the engine does not ask here for them).
/// <para>
/// After a sell-out most requests are the same request: the same tickets of the same pool, refused
/// against rows that have not changed since the last one. Each thread remembers its last few
/// refusals with the committed row objects they were decided on; a commit replaces a row's object
/// rather than changing it (<see cref="ICommittedRows"/>), so finding the same objects again means
/// the same rows, and the same question gets the same answer without deciding it again, up to the
/// next edge of a window on those rows (the clock alone can turn "not enough" into "sale closed").
/// </para>
/// </summary>
internal sealed class EarlyRefusal(ICommittedRows rows, TimeProvider time, CoreLimits limits)
{
    /// <summary>Refusals a thread remembers: a few pools sold out at once, each asked in turn.</summary>
    private const int Remembered = 4;

    // The calling thread's scratch: callers run on many threads at once, and a refusal must not
    // allocate a working set or lists each time. Refuse never awaits, so nothing else runs on it meanwhile.
    [ThreadStatic]
    private static Scratch? t_scratch;

    /// <summary>The answer of a hold that cannot fit; null when it might fit, or when the rows are not all in memory.</summary>
    public Outcome? Refuse(PlaceHold hold)
    {
        var scratch = t_scratch ??= new Scratch();
        var found = scratch.Rows;
        scratch.Ids.Clear();
        var total = 0L;
        foreach (var item in hold.Items)
        {
            scratch.Ids.Add(item.CapacityId);
            total += item.Quantity;
        }

        if (!rows.TryGetCommittedCapacities(scratch.Ids, found))
        {
            return null;
        }

        try
        {
            // Only an inactive node, or one with less headroom than the whole hold, can refuse it. With
            // neither, the hold fits as far as the committed rows go (the usual case during an on-sale
            // until the last tickets), and deciding it here would be work thrown away.
            if (!AnyCanRefuse(found, total))
            {
                return null;
            }

            var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
            return scratch.Recall(this, hold, found, now) ?? Decide(scratch, hold, found, now);
        }
        finally
        {
            // The rows are the store's: not kept past this call but by a remembered refusal.
            found.Clear();
        }
    }

    private static bool AnyCanRefuse(List<CapacityNode> found, long total)
    {
        foreach (var node in found)
        {
            if (!node.IsActive || node.Headroom < total)
            {
                return true;
            }
        }

        return false;
    }

    private Outcome? Decide(Scratch scratch, PlaceHold hold, List<CapacityNode> found, DateTimeOffset now)
    {
        // A priced item can never get past the price check here, nor an item drawn from an allocation
        // past the allocation check (no prices or allocations are loaded), so such a hold always goes
        // to the writer; the two refusals kept below come after every other check. The core decides
        // on copies: it changes what it loads.
        var ws = scratch.Set;
        ws.Clear();
        foreach (var node in found)
        {
            ws.Load(node.Clone());
        }

        Outcome outcome;
        try
        {
            outcome = Decider.Decide(ws, hold, now, limits);
        }
        catch (MissingRowException)
        {
            // The hold fits as far as the counters go and a buyer limit covers it: the copy has no
            // limits, so only the batch can decide.
            return null;
        }
        finally
        {
            ws.Clear();
        }

        if (outcome.Code is not (OutcomeCode.InsufficientCapacity or OutcomeCode.CapacityInactive))
        {
            return null;
        }

        scratch.Remember(this, hold, found, outcome, SaleRulesOf.SteadyUntil(found, now));
        return outcome;
    }

    /// <summary>A refusal as decided: by which instance (its limits), for which request, on which row objects, and until when the clock leaves it standing.</summary>
    private sealed record Refusal(EarlyRefusal Owner, PlaceHold Hold, CapacityNode[] Rows, Outcome Outcome, DateTimeOffset Until);

    private sealed class Scratch
    {
        public readonly WorkingSet Set = new();
        public readonly List<Guid> Ids = [];
        public readonly List<CapacityNode> Rows = [];
        private readonly Refusal?[] _refusals = new Refusal?[Remembered];
        private int _next;

        /// <summary>The answer given to the same request on the same row objects, if this thread remembers one.</summary>
        public Outcome? Recall(EarlyRefusal owner, PlaceHold hold, List<CapacityNode> found, DateTimeOffset now)
        {
            foreach (var refusal in _refusals)
            {
                if (refusal is not null && refusal.Owner == owner && now < refusal.Until && CommittedRows.Same(refusal.Rows, found) && SameRequest(refusal.Hold, hold))
                {
                    return refusal.Outcome;
                }
            }

            return null;
        }

        public void Remember(EarlyRefusal owner, PlaceHold hold, List<CapacityNode> found, Outcome outcome, DateTimeOffset until)
        {
            if (hold.Labels is not null)
            {
                return;
            }

            // The sentence written once, not at every answer that recalls it.
            _refusals[_next] = new Refusal(owner, hold, [.. found], outcome with { Detail = outcome.Detail }, until);
            _next = (_next + 1) % Remembered;
        }

        /// <summary>
        /// Everything the core reads of a hold before it refuses one, which is all of it but the new
        /// reservation's id (a copy of the rows has no reservations, so no id is ever taken there).
        /// Labels are compared only when neither has any: a request with labels is decided each time.
        /// </summary>
        private static bool SameRequest(PlaceHold a, PlaceHold b) =>
            a.TenantId == b.TenantId
            && a.Minutes == b.Minutes
            && a.BuyerKey == b.BuyerKey
            && a.Labels is null && b.Labels is null
            && a.Items.AsSpan().SequenceEqual(b.Items);
    }
}

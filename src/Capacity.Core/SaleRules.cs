namespace Capacity.Core;

/// <summary>
/// What opens and closes a capacity for sale, and how far past its total it may sell: a window
/// (<see cref="StartsAt"/>, <see cref="EndsAt"/>), a tier it opens after (<see cref="OpensAfter"/>: closed
/// until that capacity first sells out or its own window ends, then open for good), <see cref="CloseWhenSoldOut"/>, and an
/// <see cref="OverbookLimit"/>. With them, what happened: <see cref="TierOpen"/> (its earlier tier sold
/// out), <see cref="SoldOutAt"/> (when its availability first reached 0), <see cref="ClosedReason"/>, and
/// <see cref="Successors"/> (the capacities that open after this one). <see cref="LowWatermark"/> only says
/// when subscribers hear <c>capacity.low</c>; <see cref="EdgeAt"/> is the window's next edge that no sweep has passed yet.
/// </summary>
/// <remarks>
/// A value, replaced whenever it changes, and null on a capacity that has none of these (nearly every
/// one): a hold then pays one null check per node. Stored as one JSON column.
/// </remarks>
public sealed record SaleRules(
    DateTimeOffset? StartsAt = null,
    DateTimeOffset? EndsAt = null,
    Guid? OpensAfter = null,
    bool CloseWhenSoldOut = false,
    int OverbookLimit = 0,
    bool TierOpen = false,
    DateTimeOffset? SoldOutAt = null,
    string? ClosedReason = null,
    Guid[]? Successors = null,
    int? LowWatermark = null,
    DateTimeOffset? EdgeAt = null)
{
    /// <summary>
    /// The next edge of the window after <paramref name="now"/> (its start, else its end), or null. The
    /// sweep passes each edge once (<see cref="PassSaleEdges"/>): that is when the clock's change of
    /// state is told and the waiting lists it opens are offered.
    /// </summary>
    public DateTimeOffset? NextEdgeAfter(DateTimeOffset now) =>
        StartsAt > now ? StartsAt : EndsAt > now ? EndsAt : null;

    /// <summary>Why a capacity closed by rule: its availability reached 0 with <see cref="CloseWhenSoldOut"/>.</summary>
    public const string SoldOutReason = "sold_out";

    /// <summary>Whether the capacity takes new holds only at some times: a window, or a tier not yet open.</summary>
    public bool Gates => StartsAt.HasValue || EndsAt.HasValue || OpensAfter.HasValue && !TierOpen;

    /// <summary>Whether a new hold is refused at <paramref name="now"/>: before the window, after it, or a tier not yet open.</summary>
    public bool ClosedAt(DateTimeOffset now) => OutsideWindow(now) || OpensAfter is not null && !TierOpen;

    /// <summary>Whether <paramref name="now"/> is before the window's start or at or after its end.</summary>
    public bool OutsideWindow(DateTimeOffset now) => StartsAt > now || EndsAt <= now;

    /// <summary>Whether the capacity's availability reaching 0 changes something: it closes, or a later tier opens.</summary>
    public bool WatchesSellOut => CloseWhenSoldOut || Successors is { Length: > 0 } && SoldOutAt is null;
}

/// <summary>Where a capacity stands for a buyer at an instant: <c>state</c> on every read.</summary>
public enum SaleState
{
    /// <summary>Not yet: its window has not started, or the tier before it has not sold out.</summary>
    Scheduled,
    OnSale,
    /// <summary>Open, but nothing is available.</summary>
    SoldOut,
    /// <summary>Deactivated (by hand or by its sold-out rule), or its window has ended.</summary>
    Closed,
}

/// <summary>New values for some of a capacity's sale rules; each <see cref="Change{T}"/> left as Keep keeps its value.</summary>
public sealed record SalePatch(
    Change<DateTimeOffset?> StartsAt,
    Change<DateTimeOffset?> EndsAt,
    Change<Guid?> OpensAfter,
    Change<bool> CloseWhenSoldOut,
    Change<int> OverbookLimit,
    Change<int?> LowWatermark = default);

/// <summary>
/// What the capacities a capacity draws from decide about its sale: whether one of them is deactivated,
/// the latest start and the earliest end among their windows, and whether one is a tier not yet open.
/// A hold meets all of them (every node of its closure must be active and open), so the state a read
/// shows counts them too. The default: nothing above gates. Kept as ticks, so a capacity's view grows
/// by 24 bytes, not by two nullable instants.
/// </summary>
public readonly record struct SaleGate
{
    private readonly long _startsTicks;
    private readonly long _endsTicks;

    private SaleGate(bool inactive, long startsTicks, long endsTicks, bool tierWaiting)
    {
        Inactive = inactive;
        _startsTicks = startsTicks;
        _endsTicks = endsTicks;
        TierWaiting = tierWaiting;
    }

    /// <summary>Whether a capacity it draws from is deactivated.</summary>
    public bool Inactive { get; }

    /// <summary>Whether a capacity it draws from is a tier not yet open.</summary>
    public bool TierWaiting { get; }

    /// <summary>The latest start of the windows above, or null when none has one.</summary>
    public DateTimeOffset? StartsAt => _startsTicks == 0 ? null : new DateTimeOffset(_startsTicks, TimeSpan.Zero);

    /// <summary>The earliest end of the windows above, or null when none has one.</summary>
    public DateTimeOffset? EndsAt => _endsTicks == 0 ? null : new DateTimeOffset(_endsTicks, TimeSpan.Zero);

    /// <summary>The gate of <paramref name="closure"/>'s nodes after its first (the capacity itself): its ancestors.</summary>
    public static SaleGate Above(List<CapacityNode> closure)
    {
        var (inactive, starts, ends, tierWaiting) = (false, 0L, 0L, false);
        for (var i = 1; i < closure.Count; i++)
        {
            var n = closure[i];
            inactive |= !n.IsActive;
            if (n.Sale is not { } rules)
            {
                continue;
            }

            if (rules.StartsAt is { } start && start.UtcTicks > starts)
            {
                starts = start.UtcTicks;
            }

            if (rules.EndsAt is { } end && (ends == 0 || end.UtcTicks < ends))
            {
                ends = end.UtcTicks;
            }

            tierWaiting |= rules is { OpensAfter: not null, TierOpen: false };
        }

        return new SaleGate(inactive, starts, ends, tierWaiting);
    }
}

public static class SaleRulesOf
{
    /// <summary>
    /// Until when what these capacities' rules decide stays as it is at <paramref name="now"/> while
    /// nothing is committed: the earliest edge of a window after now, or <see cref="DateTimeOffset.MaxValue"/>
    /// (a tier waiting for a sell-out opens only by a commit). An answer worked out from these rows at
    /// now, a state or a refusal, is the answer until then.
    /// </summary>
    public static DateTimeOffset SteadyUntil(IReadOnlyList<CapacityNode> rows, DateTimeOffset now)
    {
        var until = DateTimeOffset.MaxValue;
        foreach (var row in rows)
        {
            if (row.Sale?.NextEdgeAfter(now) is { } edge && edge < until)
            {
                until = edge;
            }
        }

        return until;
    }

    /// <summary>
    /// The state of a capacity with these rules, activity and availability at <paramref name="now"/>, and
    /// the next instant it changes by the clock (null when none is known).
    /// </summary>
    /// <remarks>
    /// With <paramref name="above"/>, the gates of the capacities it draws from count as its own: a
    /// section under a closed pool is closed, under a pool whose window has not started is scheduled
    /// until the later of the starts (or closed at the earlier end, if that comes first).
    /// </remarks>
    public static (SaleState State, DateTimeOffset? NextChangeAt) State(SaleRules? rules, bool isActive, long? available, DateTimeOffset now, SaleGate above = default)
    {
        var starts = Later(rules?.StartsAt, above.StartsAt);
        var ends = Earlier(rules?.EndsAt, above.EndsAt);
        if (!isActive || above.Inactive || ends <= now)
        {
            return (SaleState.Closed, null);
        }

        // A tier not yet open opens by a sell-out (a commit), never by the clock: its window's start
        // changes nothing, and only the end, which closes it, is a change the clock makes.
        if (rules is { OpensAfter: not null, TierOpen: false } || above.TierWaiting)
        {
            return (SaleState.Scheduled, ends);
        }

        if (starts > now)
        {
            return (SaleState.Scheduled, Earlier(starts, ends));
        }

        return (available == 0 ? SaleState.SoldOut : SaleState.OnSale, ends);
    }

    /// <summary>
    /// The refusal of a hold (or a check) on <paramref name="node"/>, not on sale at <paramref name="now"/>
    /// (<see cref="SaleRules.ClosedAt"/>): closed, not started, or a tier not yet open, with its view.
    /// </summary>
    public static Outcome Refusal(CapacityNode node, in CapacityView view, DateTimeOffset now)
    {
        var rules = node.Sale!;
        if (rules.EndsAt <= now)
        {
            return new Outcome(OutcomeCode.SaleClosed, $"{node.SectionName} ({node.Id}) is no longer on sale: its sale ended at {Rules.Instant(rules.EndsAt)}.") { Capacity = view };
        }

        return rules.StartsAt > now
            ? new Outcome(OutcomeCode.SaleNotOpen, $"{node.SectionName} ({node.Id}) is not on sale yet: its sale starts at {Rules.Instant(rules.StartsAt)}.") { Capacity = view }
            : new Outcome(OutcomeCode.SaleNotOpen, $"{node.SectionName} ({node.Id}) is not on sale yet: it opens when capacity {rules.OpensAfter} sells out or its sale ends.") { Capacity = view };
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static DateTimeOffset? Earlier(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    /// <summary>
    /// Whether <paramref name="node"/>'s tickets belong to the sale under way at <paramref name="now"/>: it
    /// and every capacity it draws from are active and inside their windows (the checks a hold meets), and
    /// each tier among them not yet open follows a capacity that is itself in the sale, because the very
    /// sales a forecast measures are what open it. A window not started or ended, or a deactivated
    /// capacity here or above, sells nothing until the clock or a hand changes it.
    /// </summary>
    public static bool InCurrentSale(CapacityNode node, ICapacityLookup lookup, DateTimeOffset now) =>
        InSale(node, lookup, now, []);

    // earlier: the earlier capacities of tiers already decided, so that a chain is walked once.
    private static bool InSale(CapacityNode node, ICapacityLookup lookup, DateTimeOffset now, Dictionary<Guid, bool> earlier)
    {
        var closure = new List<CapacityNode>();
        Graph.Closure(node, lookup, closure);
        foreach (var n in closure)
        {
            if (!n.IsActive || n.Sale?.OutsideWindow(now) == true)
            {
                return false;
            }
        }

        foreach (var n in closure)
        {
            if (n.Sale is { OpensAfter: { } after, TierOpen: false } && !Decided(after))
            {
                return false;
            }
        }

        return true;

        bool Decided(Guid id)
        {
            if (earlier.TryGetValue(id, out var known))
            {
                return known;
            }

            // False while it is being decided: a chain closing into a cycle, which the core never lets
            // form, would never open, and the walk ends.
            earlier[id] = false;
            return earlier[id] = lookup.FindCapacity(id) is { } before && InSale(before, lookup, now, earlier);
        }
    }
}

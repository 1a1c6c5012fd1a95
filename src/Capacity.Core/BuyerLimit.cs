namespace Capacity.Core;

/// <summary>
/// "At most N tickets per buyer" over a set of capacities of one event. A buyer is a key the platform
/// sends (a hash of an e-mail, an account or a card); the core never needs to know more. Mutable for
/// the same reason as <see cref="CapacityNode"/>: the working set owns one instance per row.
/// </summary>
public sealed class BuyerLimit
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required string EventId { get; init; }
    public required string Name { get; set; }

    /// <summary>The capacities whose tickets count; fixed at creation. An item counts when it is on one of them.</summary>
    public required Guid[] CapacityIds { get; init; }

    public int PerBuyerMax { get; set; }

    /// <summary>Whether a hold on any of the capacities must carry a buyer key.</summary>
    public bool RequireBuyerKey { get; set; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Set when the limit is deleted in this batch: the store removes its row.</summary>
    public bool Deleted { get; set; }

    internal long RecordedIn;
}

/// <summary>
/// Tickets one buyer has on one capacity in active holds and confirmed sales, and the units its
/// waiting-list entries still wait for there (an entry is a claim on tickets; an offer moves its units
/// to its hold). Kept for every keyed hold and entry, limit or not, so that a limit created after the
/// sales counts them at once. A limit's usage for a buyer is the sum of these over its capacities.
/// </summary>
public sealed class BuyerUsage
{
    public required Guid TenantId { get; init; }
    public required Guid CapacityId { get; init; }
    public required string BuyerKey { get; init; }
    public long Used { get; set; }

    /// <summary>
    /// Set on a row the store did not read, on a capacity no limit covers (<see cref="LoadKeys.UsageKeys(WorkingSet)"/>):
    /// <see cref="Used"/> is then this batch's change only, which the store appends to the capacity's
    /// usage log (the buyer's usage is its row plus its log entries; on PostgreSQL a limit's creation
    /// folds the log into the rows, <see cref="LoadKeys.LimitCapacities"/>). Nothing checks such a row
    /// against a limit; <see cref="WorkingSet.UsageOf"/> refuses to.
    /// </summary>
    public bool Unread { get; init; }

    internal long RecordedIn;
}

/// <summary>A limit as it was at the moment of a decision: what an answer carries.</summary>
public sealed record BuyerLimitView(
    Guid Id,
    string EventId,
    string Name,
    Guid[] CapacityIds,
    int PerBuyerMax,
    bool RequireBuyerKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static BuyerLimitView Of(BuyerLimit l) => new(l.Id, l.EventId, l.Name, l.CapacityIds, l.PerBuyerMax, l.RequireBuyerKey, l.CreatedAt, l.UpdatedAt);
}

/// <summary>Why a hold went past a buyer's limit: which limit, what the buyer had, asked for, and may have.</summary>
public sealed record BuyerLimitExcess(Guid LimitId, long Used, long Requested, int PerBuyerMax);

namespace Capacity.Core;

/// <summary>How a capacity draws tickets, derived from whether it is limited and whether it has parents.</summary>
public enum CapacityMode
{
    /// <summary>Limited, no parents: its own pool.</summary>
    Own,
    /// <summary>Limited and drawing from parents: a cap inside a shared pool.</summary>
    Capped,
    /// <summary>Unlimited itself, drawing from parents: sells straight from its pools.</summary>
    Shared,
    /// <summary>Unlimited, no parents: never runs out.</summary>
    Unlimited,
}

/// <summary>
/// A capacity node as the core sees it. Mutable on purpose: the engine's working set owns one instance
/// per row for the length of a batch and the core updates counters in place (no allocation per hold).
/// </summary>
public sealed class CapacityNode
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required string EventId { get; init; }
    public string? ScheduleId { get; init; }
    public required string SectionName { get; set; }
    public string? SectionCode { get; set; }
    /// <summary>The limit, or null for unlimited.</summary>
    public int? Total { get; set; }
    /// <summary>Parents are fixed at creation, which is what keeps the graph acyclic.</summary>
    public required Guid[] ParentIds { get; init; }
    public bool IsActive { get; set; } = true;
    public long Reserved { get; set; }
    public long Sold { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// How many allocations were ever made on this capacity: a read shows its allocations only when
    /// there are some, so a capacity that never had one costs a read nothing more.
    /// </summary>
    public int AllocationCount { get; set; }

    /// <summary>
    /// The buyer limits that count this capacity's tickets. Empty for nearly every capacity, and then a
    /// hold on it never looks at limits. Replaced, never changed in place (copies share it).
    /// </summary>
    public Guid[] LimitIds { get; set; } = [];

    /// <summary>The waiting list's settings; null for a capacity that never had one.</summary>
    public WaitlistSettings? Waitlist { get; set; }

    /// <summary>Its sale window, tier, sold-out rule and overbooking allowance; null for a capacity that has none.</summary>
    public SaleRules? Sale { get; set; }

    /// <summary>Units past <see cref="Total"/> that holds may take on purpose (overbooking); 0 on nearly every capacity.</summary>
    public int OverbookLimit => Sale?.OverbookLimit ?? 0;

    /// <summary>Units in waiting entries on this capacity itself: what its waiting list is owed.</summary>
    public long WaitingUnits { get; set; }

    /// <summary>
    /// Units waited for here: this capacity's own waiting units plus what each capacity directly below
    /// it passes up (<see cref="ShareOf"/> of its own <see cref="QueueDemand"/>: at most what it could
    /// still give). Entries can be offered no more than every capacity between them and this one could
    /// give, so a long queue on a sold-out section (or on an unlimited ticket type under one) passes
    /// nothing up and does not close its siblings, while what could reach this node stays kept from
    /// the public (<see cref="Headroom"/>): nobody jumps the queue through a sibling that shares the
    /// pool. A capacity with two parents passes its share up both ways, so a pool both lead to counts
    /// it twice: more kept back than could ever be offered, never less. 0 on nearly every capacity,
    /// and then it costs a hold one subtraction.
    /// </summary>
    public long QueueDemand { get; set; }

    /// <summary>
    /// What this capacity passes up to each parent, as last counted (<see cref="ShareOf"/> of
    /// <see cref="QueueDemand"/> when the row was loaded, kept in step by the core); not stored.
    /// </summary>
    internal long QueueShare { get; set; }

    /// <summary>Units of this capacity's free room kept for waiting entries here and below: <see cref="QueueDemand"/> up to what it could still give.</summary>
    public long OwedUnits => ShareOf(QueueDemand);

    /// <summary>Whether some waiting entry draws from this node: entries of its own, or units passed up from below (owed or not, since a ticket coming back here may let one be offered).</summary>
    public bool HasWaiting => QueueDemand > 0;

    /// <summary>
    /// What <paramref name="waiting"/> units waited for here count as owed on the nodes above: all of
    /// them on an unlimited capacity (any unit of the pools above could be theirs), else at most what
    /// it could still give (<see cref="Free"/>): entries through here can be offered no more than that,
    /// and a ticket coming back to it frees a unit of each pool above as well.
    /// </summary>
    public long ShareOf(long waiting) => waiting <= 0 ? 0 : Free is { } free ? Math.Min(waiting, free) : waiting;

    /// <summary>Units of this capacity held by live waiting-list offers: shown beside <see cref="WaitingUnits"/>.</summary>
    public long OfferedUnits { get; set; }

    public CapacityMode Mode => ModeOf(Total, ParentIds);

    /// <summary>The mode a capacity with this total and these parents has.</summary>
    internal static CapacityMode ModeOf(int? total, Guid[] parentIds) => (total is null, parentIds.Length == 0) switch
    {
        (false, true) => CapacityMode.Own,
        (false, false) => CapacityMode.Capped,
        (true, false) => CapacityMode.Shared,
        (true, true) => CapacityMode.Unlimited,
    };

    /// <summary>
    /// Closed by its sold-out rule (an early tier after its sell-out, <c>close_when_sold_out</c>) rather than
    /// switched off by hand: closed to the public for good, not to the blocks set aside in it.
    /// </summary>
    public bool ClosedBySellOut => !IsActive && Sale?.ClosedReason == SaleRules.SoldOutReason;

    /// <summary>What this node alone could still give a public hold (units owed to waiting lists excluded), or null when it is unlimited.</summary>
    public long? Headroom => Total is { } t ? Math.Max(0, t + OverbookLimit - Reserved - Sold - QueueDemand) : null;

    /// <summary>What this node alone could still give anyone, the waiting lists' entries included; null when it is unlimited.</summary>
    public long? Free => Total is { } t ? Math.Max(0, t + OverbookLimit - Reserved - Sold) : null;

    /// <summary>The most it may have held and sold together: its total and its overbooking allowance; null when unlimited.</summary>
    public long? Ceiling => Total is { } t ? t + OverbookLimit : null;

    /// <summary>The working-set epoch in which this node's change was last recorded; see <see cref="WorkingSet"/>.</summary>
    internal long RecordedIn;

    // The items array of an unpriced single-item hold on this node, one per small quantity, shared by
    // every such hold: an on-sale's holds are a few shapes repeated thousands of times, and sharing
    // them is what lets a hold allocate nothing. Safe because a hold's items never change once placed;
    // a copy of the node may share them too.
    private const int SharedQuantities = 8;
    private ReservationItem[]?[]? _plainItems;

    internal ReservationItem[] PlainItems(int quantity)
    {
        if (quantity > SharedQuantities)
        {
            return [new ReservationItem(Id, quantity, null)];
        }

        _plainItems ??= new ReservationItem[]?[SharedQuantities + 1];
        return _plainItems[quantity] ??= [new ReservationItem(Id, quantity, null)];
    }

    /// <summary>A copy with its own counters; it carries no working set's record of changes.</summary>
    public CapacityNode Clone()
    {
        var copy = (CapacityNode)MemberwiseClone();
        copy.RecordedIn = 0;
        return copy;
    }
}

public enum ReservationStatus
{
    Active,
    Confirmed,
    Released,
    Expired,
    Cancelled,
}

/// <summary>A price entry of a capacity. Money is decimal, never floating point.</summary>
public sealed record PriceEntry(
    Guid Id,
    Guid TenantId,
    Guid CapacityId,
    string Name,
    decimal BasePrice,
    decimal? CurrentPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The price a buyer pays now: the dynamic price when set, else the base. Zero is a real price.</summary>
    public decimal UnitPrice => CurrentPrice ?? BasePrice;
}

/// <summary>A snapshot of a price taken when the hold was placed; later price changes never alter it.</summary>
public sealed record LockedPrice(
    Guid PricingId,
    string Name,
    decimal UnitPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency,
    DateTimeOffset LockedAt);

/// <summary>
/// What a hold takes from one capacity. A struct, so an item is stored inline in its hold's array.
/// </summary>
/// <remarks>
/// <see cref="Quantity"/> is what the item holds or sold and still has: a partial refund moves units
/// from it to <see cref="CancelledQuantity"/>, which only shows what was refunded.
/// </remarks>
public readonly record struct ReservationItem(Guid CapacityId, int Quantity, LockedPrice? LockedPrice, Guid? AllocationId = null, int CancelledQuantity = 0) : IDemand;

/// <summary>
/// A hold. A value, not an object: the working set stores it inline and every transition replaces
/// it, so placing, confirming and releasing a hold allocates nothing on the heap (its items array
/// is the one exception, and plain single-item arrays are shared, see <see cref="WorkingSet"/>).
/// </summary>
public readonly record struct Reservation(
    Guid Id,
    Guid TenantId,
    ReservationStatus Status,
    ReservationItem[] Items,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? ConfirmedAt,
    DateTimeOffset? EndedAt,
    string? BuyerKey = null,
    Guid? WaitlistId = null,
    ReservationLabels? Labels = null)
{
    /// <summary>
    /// The status a caller sees: a hold past its expiry is expired even if the sweeper has not
    /// written that yet, because it can no longer be confirmed.
    /// </summary>
    public ReservationStatus EffectiveStatus(DateTimeOffset now) =>
        Status == ReservationStatus.Active && now >= ExpiresAt ? ReservationStatus.Expired : Status;
}

/// <summary>
/// The platform's own names for a hold: <see cref="ExternalRef"/> (its order or cart id) and flat
/// string <see cref="Metadata"/>, kept and shown, never interpreted. A class, so that a hold without
/// them (nearly every hold) carries one null reference, not two fields.
/// </summary>
public sealed record ReservationLabels(string? ExternalRef, KeyValuePair<string, string>[]? Metadata);

public enum LedgerKind
{
    Hold,
    Confirm,
    Release,
    Expire,
    Cancel,
    /// <summary>Units set aside for an allocation, or an allocation grown: reserved on every node it charges.</summary>
    Allocate,
    /// <summary>Idle units of an allocation given back to the public (release, shrink or close).</summary>
    Deallocate,
    /// <summary>An expired hold confirmed after all (<c>on_expired: reclaim</c>): its units go straight to sold.</summary>
    Reclaim,
    /// <summary>A tier opened because the capacity before it sold out (no counter moves).</summary>
    Open,
    /// <summary>A capacity closed by its rule when it sold out (no counter moves).</summary>
    Close,
}

/// <summary>One change to one node's counters. The store assigns the sequence.</summary>
public readonly record struct LedgerEntry(
    LedgerKind Kind,
    Guid TenantId,
    string EventId,
    Guid CapacityId,
    Guid ReservationId,
    long ReservedDelta,
    long SoldDelta,
    DateTimeOffset At,
    Guid? AllocationId = null,
    Guid? WaitlistId = null);

/// <summary>A tenant; <see cref="DisabledAt"/> set refuses every credential of it, its keys and JWTs alike.</summary>
public sealed record Tenant(Guid Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt = null);

/// <summary>
/// What a tenant credential may do, each scope all of the one before it and more. Ordered, so that a
/// check is one comparison (<c>scope &gt;= KeyScope.Write</c>).
/// </summary>
public enum KeyScope
{
    /// <summary>Reads and live streams only: any change is refused.</summary>
    Read,

    /// <summary>Everything a tenant does through the API: what every key could do before scopes. The default.</summary>
    Write,

    /// <summary>Write, and what is reserved to a box office: confirming an expired hold after all (<c>on_expired: reclaim</c>).</summary>
    Elevated,
}

/// <summary>
/// An API key as stored: its SHA-256 hash, never the key itself, and the first characters of the key
/// (<see cref="Prefix"/>, null for keys issued before they were kept) so that a person can tell keys
/// apart in a list. A value: revoking or recording its use replaces it.
/// </summary>
public sealed record ApiKey(
    Guid Id,
    byte[] KeyHash,
    Guid TenantId,
    string? Prefix,
    string? Name,
    KeyScope Scope,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt = null,
    DateTimeOffset? RevokedAt = null,
    DateTimeOffset? LastUsedAt = null)
{
    /// <summary>Whether the key authenticates at <paramref name="now"/>: not revoked, and not past its expiry.</summary>
    public bool IsUsableAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is not { } expires || now < expires);
}

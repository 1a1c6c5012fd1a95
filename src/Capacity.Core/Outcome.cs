namespace Capacity.Core;

/// <summary>The closed set of answers the core gives. Business failures are outcomes, not exceptions.</summary>
public enum OutcomeCode
{
    Ok,
    /// <summary>The command asked for the state the subject already has (confirm a confirmed hold): nothing changed.</summary>
    Unchanged,
    Invalid,
    InvalidQuantity,
    NotFound,
    InsufficientCapacity,
    CapacityInactive,
    BelowCommitted,
    ReservationExpired,
    ReservationNotActive,
    ExtensionLimit,
    /// <summary>The allocation is closed and takes no holds, releases or resizes.</summary>
    AllocationClosed,
    /// <summary>The allocation has fewer idle units than asked; <see cref="Outcome.Available"/> carries its idle units.</summary>
    AllocationInsufficient,
    /// <summary>An allocation cannot shrink below what its holds and sales have taken from it.</summary>
    AllocationBelowCommitted,
    /// <summary>The hold would take a buyer past a limit; <see cref="Outcome.LimitExcess"/> says which and by how much.</summary>
    BuyerLimitExceeded,
    /// <summary>A limit over one of the hold's capacities requires a buyer key, and the hold has none.</summary>
    BuyerKeyRequired,
    /// <summary>A capacity of a waiting-list entry does not take entries.</summary>
    WaitlistDisabled,
    /// <summary>The change is not open to this hold: it draws from an allocation, or it is a waiting-list offer.</summary>
    NotChangeable,
    /// <summary>A capacity of the hold is not on sale yet: its window has not started, or the tier before it has not sold out. <see cref="Outcome.Capacity"/> is that capacity.</summary>
    SaleNotOpen,
    /// <summary>A capacity of the hold is no longer on sale: its window has ended. <see cref="Outcome.Capacity"/> is that capacity.</summary>
    SaleClosed,
    /// <summary>The event already has as many capacities as a create allowed it (<see cref="CreateCapacity.MaxInEvent"/>); <see cref="Outcome.Count"/> is that bound.</summary>
    TooManyCapacities,
    /// <summary>The tenant already has as many usable keys as the issue allowed it (<see cref="AddApiKey.MaxUsable"/>); <see cref="Outcome.Count"/> is that bound.</summary>
    TooManyKeys,
    /// <summary>The tenant already has as many webhook endpoints as it may (<see cref="CoreLimits.MaxWebhooks"/>); <see cref="Outcome.Count"/> is that bound.</summary>
    TooManyWebhooks,
}

/// <summary>What an expired hold asked of one capacity and what that capacity has for it now.</summary>
public readonly record struct ShortfallItem(Guid CapacityId, long Requested, long Available);

/// <summary>
/// A capacity as it was at the moment of a decision, with its effective availability (the minimum
/// over itself and its limited ancestors; null when none is limited). A value: a hold's answer
/// carries one without a heap allocation.
/// </summary>
public readonly record struct CapacityView(
    Guid Id,
    string EventId,
    string? ScheduleId,
    string SectionName,
    string? SectionCode,
    CapacityMode Mode,
    int? Total,
    long? Available,
    long Reserved,
    long Sold,
    bool IsActive,
    Guid[] ParentIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    WaitlistSettings? Waitlist = null,
    long WaitlistDemand = 0,
    long Waiting = 0,
    long Offered = 0,
    SaleRules? Sale = null,
    SaleGate Above = default);

/// <summary>
/// Why a hold did not fit: the node that ran short, what the hold asked of it and what it had left.
/// The refusal keeps the numbers and writes its sentence only when someone reads it, so that an
/// on-sale's thousands of "sold out" answers cost no string each inside the core.
/// </summary>
/// <param name="CapacityId">The short node: the capacity named, or a pool it draws from.</param>
/// <param name="SectionName">The short node's name.</param>
/// <param name="Requested">What the hold asked of it.</param>
/// <param name="Left">What it had left for a public hold.</param>
/// <param name="Owed">Units on the short node owed to waiting lists, which a public hold cannot take.</param>
public readonly record struct Shortage(Guid CapacityId, string SectionName, long Requested, long Left, long Owed = 0)
{
    public string Describe() => Owed > 0
        ? $"Not enough capacity in {SectionName}: {Requested} requested, {Left} left; {Owed} {(Owed == 1 ? "is" : "are")} kept for the waiting lists it serves."
        : $"Not enough capacity in {SectionName}: {Requested} requested, {Left} left.";
}

/// <summary>
/// The answer to one command. <see cref="Field"/> and <see cref="Detail"/> explain a failure;
/// <see cref="Available"/> carries the current availability with <see cref="OutcomeCode.InsufficientCapacity"/>.
/// A value rather than an object, so that deciding allocates nothing of its own. The parts an answer
/// carries are set with initializers, not constructor arguments: an answer is a few hundred bytes,
/// and passing every part by value to a constructor would copy all of them on every decision.
/// </summary>
public readonly record struct Outcome
{
    private readonly string? _detail;

    // The hold and the view are kept as plain fields with a flag rather than as nullables: a
    // constructor then copies each straight into place, where wrapping it in a nullable first made
    // a temporary of a hundred-odd bytes and a second copy.
    private readonly Reservation _reservation;
    private readonly CapacityView _capacity;
    private readonly bool _hasReservation;
    private readonly bool _hasCapacity;

    public Outcome(OutcomeCode code, string? detail = null, string? field = null)
    {
        Code = code;
        _detail = detail;
        Field = field;
    }

    /// <summary>An answer about a hold; the fields are written straight into the answer's own storage.</summary>
    internal Outcome(OutcomeCode code, in Reservation reservation)
    {
        Code = code;
        _reservation = reservation;
        _hasReservation = true;
    }

    /// <summary>A new hold with the first item's capacity as the hold left it.</summary>
    internal Outcome(OutcomeCode code, in Reservation reservation, in CapacityView capacity)
    {
        Code = code;
        _reservation = reservation;
        _hasReservation = true;
        _capacity = capacity;
        _hasCapacity = true;
    }

    public OutcomeCode Code { get; init; }

    /// <summary>The sentence explaining a failure; a shortage's is written from its numbers when read.</summary>
    public string? Detail
    {
        get => _detail ?? Shortage?.Describe();
        init => _detail = value;
    }

    public string? Field { get; init; }
    public long? Available { get; init; }
    public CapacityView? Capacity
    {
        get => _hasCapacity ? _capacity : null;
        init => (_capacity, _hasCapacity) = (value.GetValueOrDefault(), value.HasValue);
    }

    public Reservation? Reservation
    {
        get => _hasReservation ? _reservation : null;
        init => (_reservation, _hasReservation) = (value.GetValueOrDefault(), value.HasValue);
    }
    public PriceEntry? Price { get; init; }
    public AllocationView? Allocation { get; init; }
    public BuyerLimitView? Limit { get; init; }
    public BuyerLimitExcess? LimitExcess { get; init; }
    public WaitlistEntryView? Entry { get; init; }
    public Tenant? Tenant { get; init; }
    public WebhookView? Webhook { get; init; }
    public DeliveryView? Delivery { get; init; }

    /// <summary>The key a key command issued, revoked or found revoked already.</summary>
    public ApiKey? Key { get; init; }
    public int Count { get; init; }
    public Shortage? Shortage { get; init; }

    /// <summary>A reclaim refused: each capacity that lacks the tickets, with what it has.</summary>
    public ShortfallItem[]? Shortfall { get; init; }

    /// <summary>The hold was confirmed after it expired, its tickets taken back (<c>on_expired: reclaim</c>).</summary>
    public bool Reclaimed { get; init; }

    public bool Succeeded => Code is OutcomeCode.Ok or OutcomeCode.Unchanged;

    public static Outcome Invalid(string field, string detail) => new(OutcomeCode.Invalid, detail, field);
    public static Outcome NotFound(string detail) => new(OutcomeCode.NotFound, detail);

    public static Outcome TooManyKeys(Guid tenantId, int bound) =>
        new(OutcomeCode.TooManyKeys, $"Tenant {tenantId} has {bound} usable keys, the most it may.") { Count = bound };

    public static Outcome TooManyWebhooks(Guid tenantId, int bound) =>
        new(OutcomeCode.TooManyWebhooks, $"Tenant {tenantId} has {bound} webhook endpoints, the most it may; delete one first.") { Count = bound };

    public static Outcome TooManyCapacities(string eventId, int bound) =>
        new(OutcomeCode.TooManyCapacities, $"Event {eventId} has {bound} capacities, the most one event may have.") { Count = bound };
}

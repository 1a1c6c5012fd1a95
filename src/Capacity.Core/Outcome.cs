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
}

/// <summary>
/// A capacity as it was at the moment of a decision, with its effective availability (the minimum
/// over itself and its limited ancestors; null when none is limited).
/// </summary>
public sealed record CapacityView(
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
    DateTimeOffset UpdatedAt);

/// <summary>
/// The answer to one command. <see cref="Field"/> and <see cref="Detail"/> explain a failure;
/// <see cref="Available"/> carries the current availability with <see cref="OutcomeCode.InsufficientCapacity"/>.
/// </summary>
public sealed record Outcome(
    OutcomeCode Code,
    string? Detail = null,
    string? Field = null,
    long? Available = null,
    CapacityView? Capacity = null,
    Reservation? Reservation = null,
    PriceEntry? Price = null,
    Tenant? Tenant = null,
    int Count = 0)
{
    public bool Succeeded => Code is OutcomeCode.Ok or OutcomeCode.Unchanged;

    public static Outcome Invalid(string field, string detail) => new(OutcomeCode.Invalid, detail, field);
    public static Outcome NotFound(string detail) => new(OutcomeCode.NotFound, detail);
}

namespace Capacity.Core;

/// <summary>How a capacity's waiting list hands out freed units.</summary>
public enum WaitlistPolicy
{
    /// <summary>In order, stopping at the first entry that does not fit: a group is never overtaken by a smaller one behind it.</summary>
    Fifo,
    /// <summary>In order, skipping entries that do not fit.</summary>
    FirstFit,
}

/// <summary>A capacity's waiting list: whether it takes entries, how long an offer lasts, and its policy.</summary>
public sealed record WaitlistSettings(bool Enabled, int OfferMinutes, WaitlistPolicy Policy);

/// <summary>
/// A change to a capacity's waiting list: each field left null keeps its current value, or, on a
/// capacity that never had a list, takes the default (enabled, <see cref="CoreLimits.DefaultOfferMinutes"/>,
/// fifo). Merged inside the batch, so two concurrent changes of different fields both land.
/// Disabling a list refuses new entries; entries already waiting stay and are still offered.
/// </summary>
public sealed record WaitlistPatch(bool? Enabled = null, int? OfferMinutes = null, WaitlistPolicy? Policy = null)
{
    public WaitlistSettings Apply(WaitlistSettings? current, CoreLimits limits) => new(
        Enabled ?? current?.Enabled ?? true,
        OfferMinutes ?? current?.OfferMinutes ?? limits.DefaultOfferMinutes,
        Policy ?? current?.Policy ?? WaitlistPolicy.Fifo);
}

public enum WaitlistStatus
{
    /// <summary>In the queue, its units counted as owed to it.</summary>
    Waiting,
    /// <summary>Its units are held by an offer (an ordinary reservation) until it is confirmed, released or expires.</summary>
    Offered,
    /// <summary>Its offer was confirmed.</summary>
    Accepted,
    /// <summary>Its offer expired or was released, or, waiting, it could never be offered any more (too large for a pool after a resize, past the end of a window it reaches); it does not rejoin.</summary>
    Lapsed,
    /// <summary>The buyer left the queue (or left with an offer, which was released).</summary>
    Left,
}

/// <summary>
/// Why an entry lapsed: what a platform tells its buyer, and whether the buyer may simply join again.
/// Stored as its number (migration 020 names 0 to 3; <see cref="BuyerKeyRequired"/>, 4, came after): append only.
/// </summary>
public enum WaitlistLapse
{
    /// <summary>Its offer expired unconfirmed.</summary>
    OfferExpired,
    /// <summary>Its offer was released (the buyer declined it, or a change of the hold gave every unit back).</summary>
    OfferReleased,
    /// <summary>Waiting, it asked more of a pool than a smaller total (or overbooking allowance) left the pool in all.</summary>
    TooLarge,
    /// <summary>Waiting, the sale window of a capacity it reaches (its own or a pool's above it) ended.</summary>
    SaleEnded,

    /// <summary>
    /// Its turn came, but it names no buyer and a limit over its capacities, created or changed since it
    /// joined, requires a buyer key on every hold (an offer is one): it could never be offered.
    /// </summary>
    BuyerKeyRequired,
}

/// <summary>One line of an entry: units of one capacity, offered all together with the entry's other lines.</summary>
public readonly record struct WaitlistItem(Guid CapacityId, int Quantity) : IDemand
{
    Guid? IDemand.AllocationId => null;
}

/// <summary>
/// A place in the waiting lists of one event: one or more capacities with quantities, offered
/// all-or-nothing. Entries of an event are walked in <see cref="Sequence"/> order, which is the order
/// they joined in. Mutable for the same reason as <see cref="CapacityNode"/>: the working set owns
/// one instance per row for the length of a batch.
/// </summary>
public sealed class WaitlistEntry
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required string EventId { get; init; }
    public required WaitlistItem[] Items { get; init; }
    public string? BuyerKey { get; init; }

    /// <summary>The platform's own reference (an order or a customer id), kept and shown, never read.</summary>
    public string? ExternalRef { get; init; }

    /// <summary>
    /// The order of joining within the event: 1, 2, 3… (larger joined later). Two entries that share a
    /// capacity never share a sequence: their joins lock that capacity in turn.
    /// </summary>
    public required long Sequence { get; init; }

    public WaitlistStatus Status { get; set; }

    /// <summary>The reservation that holds the offered units; set once offered.</summary>
    public Guid? OfferReservationId { get; set; }

    /// <summary>Why it lapsed, once <see cref="WaitlistStatus.Lapsed"/> (null for entries that lapsed before migration 020 kept it).</summary>
    public WaitlistLapse? LapsedReason { get; set; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Units of all lines together.</summary>
    public long Units
    {
        get
        {
            long units = 0;
            foreach (var item in Items)
            {
                units += item.Quantity;
            }

            return units;
        }
    }

    internal long RecordedIn;

    public WaitlistEntry Clone()
    {
        var copy = (WaitlistEntry)MemberwiseClone();
        copy.RecordedIn = 0;
        return copy;
    }
}

/// <summary>
/// An entry as it was at the moment of a decision: what an answer carries. <see cref="Position"/> is
/// set only while it waits: 1 + the entries that joined before it, still wait, and share a capacity with it.
/// </summary>
public sealed record WaitlistEntryView(
    Guid Id,
    string EventId,
    WaitlistStatus Status,
    WaitlistItem[] Items,
    string? BuyerKey,
    string? ExternalRef,
    long Sequence,
    Guid? OfferReservationId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long? Position = null,
    WaitlistLapse? LapsedReason = null)
{
    public static WaitlistEntryView Of(WaitlistEntry e) =>
        new(e.Id, e.EventId, e.Status, e.Items, e.BuyerKey, e.ExternalRef, e.Sequence, e.OfferReservationId, e.CreatedAt, e.UpdatedAt, LapsedReason: e.LapsedReason);
}

using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>One of the tenant's events.</summary>
/// <param name="EventId">The event's id.</param>
/// <param name="Capacities">How many capacities it has.</param>
/// <param name="CreatedAt">When its first capacity was created.</param>
public sealed record EventSummary(string EventId, int Capacities, DateTimeOffset CreatedAt);

/// <summary>The answer of <c>GET /events</c>: every event, or one page of them.</summary>
/// <param name="Events">The tenant's events (of this page), oldest first.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page (an event id); null on the last page, and on a list asked for whole.</param>
public sealed record EventList(
    IReadOnlyList<EventSummary> Events,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NextAfter = null);

/// <summary>One <c>snapshot</c> of the live stream: the whole event as it is now.</summary>
/// <param name="EventId">The event.</param>
/// <param name="Capacity">Its capacities in creation order.</param>
/// <param name="Totals">Its totals over the roots.</param>
/// <param name="Holds">Its active holds.</param>
public sealed record EventSnapshot(string EventId, IReadOnlyList<CapacityDetails> Capacity, CapacityTotals Totals, HoldSummary Holds);

/// <summary>The active holds on an event's capacities.</summary>
/// <param name="Active">How many holds are active.</param>
/// <param name="Expiring">The ones that expire soonest (up to ten), soonest first.</param>
public sealed record HoldSummary(long Active, IReadOnlyList<ExpiringHold> Expiring);

/// <summary>An active hold and when it runs out.</summary>
/// <param name="ReservationId">The hold's reservation.</param>
/// <param name="ExpiresAt">When it expires unless confirmed or extended.</param>
/// <param name="Quantity">Tickets it holds in this event, over all its items.</param>
/// <param name="Items">
/// Its tickets by capacity of this event, in the order the hold first named them (a cart over several
/// events shows under each with that event's tickets; null from a server that does not send them).
/// </param>
public sealed record ExpiringHold(Guid ReservationId, DateTimeOffset ExpiresAt, int Quantity, IReadOnlyList<ExpiringHoldItem>? Items = null);

/// <summary>One capacity's tickets in an expiring hold.</summary>
public sealed record ExpiringHoldItem(Guid CapacityId, int Quantity);

/// <summary>What a change to a capacity's counters was caused by, or what a sale rule did to it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LedgerEntryKind>))]
public enum LedgerEntryKind
{
    /// <summary>A hold took tickets (reserved up).</summary>
    [JsonStringEnumMemberName("hold")]
    Hold,

    /// <summary>A hold became a sale (reserved down, sold up).</summary>
    [JsonStringEnumMemberName("confirm")]
    Confirm,

    /// <summary>A hold was released (reserved down).</summary>
    [JsonStringEnumMemberName("release")]
    Release,

    /// <summary>A hold expired (reserved down).</summary>
    [JsonStringEnumMemberName("expire")]
    Expire,

    /// <summary>A sale was cancelled, whole or in part (sold down).</summary>
    [JsonStringEnumMemberName("cancel")]
    Cancel,

    /// <summary>An expired hold was confirmed after all (sold up, reserved unchanged).</summary>
    [JsonStringEnumMemberName("reclaim")]
    Reclaim,

    /// <summary>Tickets were set aside for an allocation, or one grew (reserved up); no reservation.</summary>
    [JsonStringEnumMemberName("allocate")]
    Allocate,

    /// <summary>An allocation gave idle tickets back to the public (reserved down); no reservation.</summary>
    [JsonStringEnumMemberName("deallocate")]
    Deallocate,

    /// <summary>A tier opened because the capacity it opens after sold out or ended its sale window; no counter moves, no reservation.</summary>
    [JsonStringEnumMemberName("open")]
    Open,

    /// <summary>A sale rule closed the capacity when it sold out; no counter moves, no reservation.</summary>
    [JsonStringEnumMemberName("close")]
    Close,
}

/// <summary>A page of an event's ledger, the append-only record of every counter change.</summary>
/// <param name="EventId">The event.</param>
/// <param name="Entries">The entries, in sequence order.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null when this page is the last so far.</param>
public sealed record LedgerPage(string EventId, IReadOnlyList<LedgerEntry> Entries, long? NextAfter);

/// <summary>One change to one capacity's counters.</summary>
/// <param name="Sequence">Its place in the event's ledger: each event numbers its entries 1, 2, 3… in commit order, with no gap.</param>
/// <param name="Kind">What caused it.</param>
/// <param name="CapacityId">The capacity whose counters changed (each pool a hold draws from has its own entry).</param>
/// <param name="ReservationId">
/// The reservation that caused it; null on <see cref="LedgerEntryKind.Allocate"/> and
/// <see cref="LedgerEntryKind.Deallocate"/> entries, which an allocation causes by itself, and on
/// <see cref="LedgerEntryKind.Open"/> and <see cref="LedgerEntryKind.Close"/> entries, which a sale rule causes.
/// </param>
/// <param name="ReservedDelta">The change to <c>reserved_capacity</c>.</param>
/// <param name="SoldDelta">The change to <c>sold_count</c>.</param>
/// <param name="At">When it happened.</param>
/// <param name="AllocationId">
/// The allocation the entry concerns: on its allocate and deallocate entries and on the entries of holds
/// drawn from it (a hold or release inside an open allocation moves nothing on the pool, and still has
/// its entry); null otherwise.
/// </param>
/// <param name="WaitlistId">The waiting-list entry whose offer caused it (equal to <paramref name="ReservationId"/>); null otherwise.</param>
public sealed record LedgerEntry(
    long Sequence,
    LedgerEntryKind Kind,
    Guid CapacityId,
    Guid? ReservationId,
    long ReservedDelta,
    long SoldDelta,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null);

using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>How a capacity counts its tickets. The server derives it from the total and the parents.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CapacityMode>))]
public enum CapacityMode
{
    /// <summary>Limited, no parents: its own pool.</summary>
    [JsonStringEnumMemberName("own")]
    Own,

    /// <summary>Limited and drawing from parents: a cap inside a shared pool.</summary>
    [JsonStringEnumMemberName("capped")]
    Capped,

    /// <summary>Unlimited itself, drawing from its parents: sells straight from their pools.</summary>
    [JsonStringEnumMemberName("shared")]
    Shared,

    /// <summary>Unlimited, no parents: never runs out.</summary>
    [JsonStringEnumMemberName("unlimited")]
    Unlimited,
}

/// <summary>Where a capacity stands for a buyer now, as its sale rules and counters make it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SaleState>))]
public enum SaleState
{
    /// <summary>
    /// Not yet: its sale window has not started, or the capacity it opens after has not sold out (nor ended its window); or the same of a pool
    /// it draws from.
    /// </summary>
    [JsonStringEnumMemberName("scheduled")]
    Scheduled,

    /// <summary>Taking holds.</summary>
    [JsonStringEnumMemberName("on_sale")]
    OnSale,

    /// <summary>Open, but nothing is available.</summary>
    [JsonStringEnumMemberName("sold_out")]
    SoldOut,

    /// <summary>
    /// Deactivated (by hand or by a sold-out rule; see <see cref="CapacityDetails.ClosedReason"/>), or its sale window has ended;
    /// or the same of a pool it draws from.
    /// </summary>
    [JsonStringEnumMemberName("closed")]
    Closed,
}

/// <summary>Why a rule, not a person, closed a capacity.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClosedReason>))]
public enum ClosedReason
{
    /// <summary>It sold out with <c>close_when_sold_out</c>, or a later tier opened when it sold out.</summary>
    [JsonStringEnumMemberName("sold_out")]
    SoldOut,
}

/// <summary>A section of an event with its counters, as <c>GET /capacity/{id}</c> answers it.</summary>
/// <param name="Id">The capacity's id, chosen by the server.</param>
/// <param name="EventId">The event it belongs to.</param>
/// <param name="ScheduleId">An optional schedule (performance) id within the event.</param>
/// <param name="SectionName">The display name.</param>
/// <param name="SectionCode">An optional short code, such as a ticket type code.</param>
/// <param name="Mode">How it counts; see <see cref="CapacityMode"/>.</param>
/// <param name="TotalCapacity">Its own limit, or null when it has none.</param>
/// <param name="AvailableCapacity">
/// What can still be held right now: the minimum of <c>total + overbook_limit − reserved − sold</c> over
/// this capacity and its limited ancestors, or null when none of them is limited.
/// </param>
/// <param name="ReservedCapacity">Tickets in active holds.</param>
/// <param name="SoldCount">Tickets in confirmed reservations.</param>
/// <param name="IsActive">False when deactivated: holds on it, or on a capacity drawing from it, are refused.</param>
/// <param name="ParentIds">The pools it draws from.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When its definition or counters last changed.</param>
/// <param name="Allocations">
/// Its allocations, oldest first, closed ones included; null for a capacity that has never had one,
/// whose answer has no <c>allocations</c> member.
/// </param>
/// <param name="Waitlist">Its waiting list's settings and counts; null for a capacity that has never had one.</param>
/// <param name="WaitlistDemand">
/// Tickets of its free room kept for waiting entries, its own and those of capacities drawing from it,
/// which public holds cannot take: each level passes up at most what it could still give them (the
/// units waited for are <see cref="WaitlistSettings"/>' waiting count); null for a capacity that has no list and is owed nothing.
/// </param>
/// <param name="State">
/// Where it stands now: scheduled, on sale, sold out or closed, as a hold on it would find it, so the pools it draws
/// from count (under a deactivated pool it is closed, under a pool whose window has not started it is scheduled),
/// where <paramref name="IsActive"/>, <paramref name="ClosedReason"/> and the window and tier are its own settings.
/// A server that predates sale rules sends none, which reads as <see cref="SaleState.OnSale"/>.
/// </param>
/// <param name="NextChangeAt">When the clock alone will change <paramref name="State"/> (a window's start or end); null when nothing is due.</param>
/// <param name="SaleStartsAt">Before this instant holds and checks are refused with <c>SALE_NOT_OPEN</c>; null when it has no start.</param>
/// <param name="SaleEndsAt">From this instant new holds and checks are refused with <c>SALE_CLOSED</c>; null when it has no end.</param>
/// <param name="OpensAfterSoldOutOf">The capacity of the same event whose first sell-out, or the end of whose sale window, opens this one; null when it follows none.</param>
/// <param name="CloseWhenSoldOut">
/// Whether it closes the first time it sells out: false on a capacity given other rules (a low watermark
/// counts) but not this one, or whose rules were cleared; null on one that never had a rule, which the
/// server shows without any of these members.
/// </param>
/// <param name="ClosedReason">Why a rule closed it (it shows <c>IsActive</c> false); null when open, or closed by hand.</param>
/// <param name="OverbookLimit">How far past its total holds may take it: 0 without an allowance; null, as <paramref name="CloseWhenSoldOut"/>, on a capacity that never had a rule.</param>
/// <param name="OverbookedBy">
/// How far held and sold together are past its total, 0 when not past it; null unless it has an overbooking allowance.
/// </param>
/// <param name="LowWatermark">
/// Webhook subscribers hear <see cref="WebhookEventTypes.CapacityLow"/> when its availability falls to or below this;
/// null when it has none.
/// </param>
public sealed record CapacityDetails(
    Guid Id,
    string EventId,
    string? ScheduleId,
    string SectionName,
    string? SectionCode,
    CapacityMode Mode,
    int? TotalCapacity,
    long? AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool IsActive,
    IReadOnlyList<Guid> ParentIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<AllocationSummary>? Allocations = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] WaitlistSettings? Waitlist = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? WaitlistDemand = null,
    SaleState State = SaleState.OnSale,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? NextChangeAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? SaleStartsAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? SaleEndsAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? OpensAfterSoldOutOf = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? CloseWhenSoldOut = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ClosedReason? ClosedReason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? OverbookLimit = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? OverbookedBy = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? LowWatermark = null);

/// <summary>The answer of <c>GET /events/{eventId}/capacity</c>: every capacity, or one page of them.</summary>
/// <param name="Capacity">The event's capacities (of this page) in creation order.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null on the last page, and on a list asked for whole.</param>
public sealed record CapacityList(
    IReadOnlyList<CapacityDetails> Capacity,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>
/// An event's totals, summed over its roots (capacities without parents) so that each pool counts once.
/// </summary>
/// <param name="EventId">The event.</param>
/// <param name="TotalCapacity">The sum of the limited roots' totals.</param>
/// <param name="AvailableCapacity">The sum of the limited roots' availability.</param>
/// <param name="ReservedCapacity">Tickets held, over all roots.</param>
/// <param name="SoldCount">Tickets sold, over all roots.</param>
/// <param name="HasUnlimited">True when some root is unlimited, so the totals are not the whole story.</param>
public sealed record CapacityTotals(
    string EventId,
    long TotalCapacity,
    long AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool HasUnlimited);

/// <summary>The body of <c>POST /events/{eventId}/capacity</c>.</summary>
public sealed record CreateCapacityRequest
{
    /// <summary>The display name (required).</summary>
    public required string SectionName { get; init; }

    /// <summary>An optional short code.</summary>
    public string? SectionCode { get; init; }

    /// <summary>The limit, 0 to 1,000,000; null for unlimited.</summary>
    public int? TotalCapacity { get; init; }

    /// <summary>The pools this capacity draws from (up to 16); none for a root.</summary>
    public IReadOnlyList<Guid>? ParentIds { get; init; }

    /// <summary>An optional assertion of the mode; the server refuses one that disagrees with the total and parents.</summary>
    public CapacityMode? Mode { get; init; }

    /// <summary>An optional schedule (performance) id.</summary>
    public string? ScheduleId { get; init; }

    /// <summary>Whether it starts active; the server's default is true.</summary>
    public bool? IsActive { get; init; }

    // The sale rules below are left out when null, so a capacity without them reads the same to a server that predates them.

    /// <summary>Before this instant holds and checks are refused with <c>SALE_NOT_OPEN</c>; on sale at once when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? SaleStartsAt { get; init; }

    /// <summary>
    /// From this instant new holds and checks are refused with <c>SALE_CLOSED</c> (holds placed before may still be
    /// confirmed); after <see cref="SaleStartsAt"/> when both are set.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? SaleEndsAt { get; init; }

    /// <summary>
    /// A capacity of the same event this one follows as the next tier: closed to holds (<c>SALE_NOT_OPEN</c>) until that
    /// one first sells out (then open for good, and that one closes) or that one's own sale window ends. Set once; it
    /// cannot be changed or cleared.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Guid? OpensAfterSoldOutOf { get; init; }

    /// <summary>When true, the first time its availability reaches 0 it closes (<see cref="ClosedReason.SoldOut"/>) until reopened by an update.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? CloseWhenSoldOut { get; init; }

    /// <summary>How far past its total holds may take a limited capacity, 0 to 1,000,000; available counts the allowance.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? OverbookLimit { get; init; }

    /// <summary>
    /// 0 to 1,000,000: webhook subscribers hear <see cref="WebhookEventTypes.CapacityLow"/> when its availability falls
    /// to or below this, once each time it crosses it downward.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? LowWatermark { get; init; }
}

/// <summary>
/// The body of <c>PUT /capacity/{id}</c>: only the fields that are set are sent. Counters are
/// never writable; they change only through holds, confirmations and releases.
/// </summary>
public sealed record UpdateCapacityRequest
{
    /// <summary>A new display name.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> SectionName { get; init; }

    /// <summary>A new short code, or null to clear it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string?> SectionCode { get; init; }

    /// <summary>A new limit, or null to make the capacity unlimited. Refused below <c>reserved + sold</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int?> TotalCapacity { get; init; }

    /// <summary>Activates or deactivates the capacity; true also reopens one a sold-out rule closed.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<bool> IsActive { get; init; }

    /// <summary>A new start of its sale window, or null to remove the start (on sale now, unless another rule says otherwise).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<DateTimeOffset?> SaleStartsAt { get; init; }

    /// <summary>A new end of its sale window, or null to remove the end.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<DateTimeOffset?> SaleEndsAt { get; init; }

    /// <summary>
    /// The capacity of the same event this one opens after (see <see cref="CreateCapacityRequest.OpensAfterSoldOutOf"/>). Set
    /// once: refused when it would close a cycle, names another event, or differs from the one already set; never cleared.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<Guid> OpensAfterSoldOutOf { get; init; }

    /// <summary>Whether it closes the first time it sells out; set on a capacity already sold out, it closes at once.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<bool> CloseWhenSoldOut { get; init; }

    /// <summary>A new overbooking allowance (0 to 1,000,000, on a limited capacity); 409 <c>CAPACITY_BELOW_COMMITTED</c> when held and sold together would be past total and allowance.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int> OverbookLimit { get; init; }

    /// <summary>A new low watermark (0 to 1,000,000; see <see cref="CreateCapacityRequest.LowWatermark"/>), or null to remove it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int?> LowWatermark { get; init; }

    /// <summary>
    /// Opens, changes or closes its waiting list; only the patch's fields that are set change. Null (the
    /// default) leaves the list alone: the server refuses a <c>waitlist</c> of null, so null is never sent.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public WaitlistPatch? Waitlist { get; init; }
}

/// <summary>The answer of <c>POST /capacity/{id}/check</c>: advice from the last committed state, not a hold.</summary>
/// <param name="Available">True when the quantity could be held right now.</param>
/// <param name="Quantity">The quantity asked about.</param>
/// <param name="AvailableCapacity">The effective availability, or null when unlimited.</param>
/// <param name="IsActive">False when the capacity or a pool it draws from is deactivated, or closed by its sold-out rule.</param>
/// <param name="InactiveCapacityId">When <paramref name="IsActive"/> is false: the capacity or pool that is inactive (null from a server that does not send it).</param>
/// <param name="ClosedReason">When that one was closed by its sold-out rule: <c>sold_out</c> (an early tier after its sell-out: offer the next tier); null when switched off by hand.</param>
/// <remarks>A capacity outside its sale window, or a tier not yet open, is refused like a hold: 409 <c>SALE_NOT_OPEN</c> or <c>SALE_CLOSED</c>.</remarks>
public sealed record CapacityCheck(bool Available, int Quantity, long? AvailableCapacity, bool IsActive, Guid? InactiveCapacityId = null, string? ClosedReason = null);

internal sealed record CheckRequest(int Quantity);

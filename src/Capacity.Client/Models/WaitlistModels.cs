using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>How a capacity's waiting list hands out tickets that come free.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WaitlistPolicy>))]
public enum WaitlistPolicy
{
    /// <summary>In the order they joined, stopping at the first entry that does not fit: a group is never overtaken by a smaller one behind it.</summary>
    [JsonStringEnumMemberName("fifo")]
    Fifo,

    /// <summary>In the order they joined, skipping entries that do not fit yet.</summary>
    [JsonStringEnumMemberName("first_fit")]
    FirstFit,
}

/// <summary>Where a waiting-list entry is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WaitlistStatus>))]
public enum WaitlistStatus
{
    /// <summary>In the queue: the tickets it asks for are owed to it as they come free (<see cref="WaitlistEntry.Position"/> says where it is).</summary>
    [JsonStringEnumMemberName("waiting")]
    Waiting,

    /// <summary>Its tickets are held by an offer, an ordinary reservation (<see cref="WaitlistEntry.OfferReservationId"/>) to confirm or release.</summary>
    [JsonStringEnumMemberName("offered")]
    Offered,

    /// <summary>Its offer was confirmed: the tickets are sold.</summary>
    [JsonStringEnumMemberName("accepted")]
    Accepted,

    /// <summary>
    /// Its offer expired or was released, or, while it waited, it could never be offered any more (a
    /// resize left it larger than a pool it draws from, or a window it reaches ended); then <see cref="WaitlistEntry.OfferReservationId"/> is
    /// null. It does not rejoin the queue.
    /// </summary>
    [JsonStringEnumMemberName("lapsed")]
    Lapsed,

    /// <summary>The buyer left the queue, or left with an offer, which was released.</summary>
    [JsonStringEnumMemberName("left")]
    Left,
}

/// <summary>
/// A capacity's waiting list as the capacity shows it (<see cref="CapacityDetails.Waitlist"/>):
/// its settings and the tickets of its own entries waiting and offered now.
/// </summary>
/// <param name="Enabled">Whether it takes new entries; a closed list still serves the entries already in it.</param>
/// <param name="OfferMinutes">How long an offer is held before it lapses.</param>
/// <param name="Policy">How freed tickets are handed out.</param>
/// <param name="Waiting">Tickets asked for by its entries that are waiting.</param>
/// <param name="Offered">Tickets held by its entries' offers.</param>
public sealed record WaitlistSettings(bool Enabled, int OfferMinutes, WaitlistPolicy Policy, long Waiting, long Offered);

/// <summary>
/// The <c>waitlist</c> of <see cref="UpdateCapacityRequest"/>: opens, changes or closes a capacity's
/// waiting list. Only the fields that are set are sent, and the others keep their value; on a capacity
/// that never had a list they take the server's defaults (enabled, 30 minutes, fifo).
/// </summary>
public sealed record WaitlistPatch
{
    /// <summary>Opens (true) or closes (false) the list. Closing refuses new entries and keeps serving those in it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<bool> Enabled { get; init; }

    /// <summary>How long an offer is held, 1 to the server's longest (120 by default).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int> OfferMinutes { get; init; }

    /// <summary>How freed tickets are handed out.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<WaitlistPolicy> Policy { get; init; }
}

/// <summary>The body of <c>POST /waitlist</c>: a place in the waiting lists of one event's capacities.</summary>
public sealed record JoinWaitlistRequest
{
    /// <summary>
    /// The capacities and quantities, 1 to the server's item limit (50 by default), all of one event and
    /// each with its list open. The entry is offered only when every item fits, all together.
    /// </summary>
    public required IReadOnlyList<WaitlistItem> Items { get; init; }

    /// <summary>
    /// Names the buyer (see <see cref="ReserveRequest.BuyerKey"/>): the offer counts towards the buyer's
    /// limits, and a buyer cannot queue for more than a limit allows.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BuyerKey { get; init; }

    /// <summary>Your own reference, such as an order or a customer id: kept and shown, never read.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExternalRef { get; init; }
}

/// <summary>One line of a waiting-list entry.</summary>
/// <param name="CapacityId">The capacity whose tickets are asked for.</param>
/// <param name="Quantity">How many, 1 to the server's per-item limit (100 by default).</param>
public sealed record WaitlistItem(Guid CapacityId, int Quantity);

/// <summary>A waiting-list entry, as <c>GET /waitlist/{id}</c> answers it.</summary>
/// <param name="Id">The entry's id; its offer, once made, is a reservation with this same id.</param>
/// <param name="EventId">The event of its capacities.</param>
/// <param name="Status">Where it is.</param>
/// <param name="Items">What it asks for.</param>
/// <param name="Position">
/// While it waits, its place in line among the entries that share a capacity with it (1: next);
/// null otherwise, and in the pages of <see cref="CapacityClient.GetWaitlistAsync"/>, which do not count it.
/// </param>
/// <param name="OfferReservationId">The reservation holding its offer, once offered; pass it to <see cref="CapacityClient.ConfirmAsync(Guid, string?, CancellationToken)"/>.</param>
/// <param name="Sequence">The order of joining within the event; the cursor of a capacity's list.</param>
/// <param name="CreatedAt">When it joined.</param>
/// <param name="UpdatedAt">When its status last changed.</param>
/// <param name="BuyerKey">The buyer it named, or null.</param>
/// <param name="ExternalRef">The reference it was given, or null.</param>
/// <param name="HeldBackByLimitId">
/// On <see cref="CapacityClient.GetWaitlistEntryAsync"/> only: while it waits, a limit over its capacities its buyer is
/// past (lowered, or created after the buyer queued and bought). It is passed over when its turn comes
/// until the buyer has room again or it leaves; null otherwise.
/// </param>
/// <param name="LapsedReason">
/// Why a <see cref="WaitlistStatus.Lapsed"/> entry lapsed, one of <see cref="WaitlistLapseReasons"/> (a string, so that a reason a
/// newer server adds reads too); null otherwise, and for entries that lapsed before the server kept it.
/// </param>
public sealed record WaitlistEntry(
    Guid Id,
    string EventId,
    WaitlistStatus Status,
    IReadOnlyList<WaitlistItem> Items,
    long? Position,
    Guid? OfferReservationId,
    long Sequence,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuyerKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExternalRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LapsedReason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? HeldBackByLimitId = null);

/// <summary>The reasons <see cref="WaitlistEntry.LapsedReason"/> gives today.</summary>
public static class WaitlistLapseReasons
{
    /// <summary>Its offer expired unconfirmed.</summary>
    public const string OfferExpired = "offer_expired";

    /// <summary>Its offer was released (the buyer declined it, or a change gave every unit back).</summary>
    public const string OfferReleased = "offer_released";

    /// <summary>While it waited, a smaller total (or overbooking allowance) left a pool it draws from smaller than what it asks.</summary>
    public const string TooLarge = "too_large";

    /// <summary>While it waited, the sale window of a capacity it reaches (its own or a pool's above it) ended.</summary>
    public const string SaleEnded = "sale_ended";

    /// <summary>Its turn came, but it names no buyer and a limit over its capacities, set since it joined, requires a buyer key on every hold.</summary>
    public const string BuyerKeyRequired = "buyer_key_required";
}

/// <summary>A page of a capacity's waiting list: every entry that names it, whatever its status, in the order they joined.</summary>
/// <param name="CapacityId">The capacity.</param>
/// <param name="Entries">The entries of this page.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null when this page is the last so far.</param>
public sealed record WaitlistPage(Guid CapacityId, IReadOnlyList<WaitlistEntry> Entries, long? NextAfter);

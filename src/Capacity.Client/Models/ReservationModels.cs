using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>Where a reservation is in its lifecycle.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ReservationStatus>))]
public enum ReservationStatus
{
    /// <summary>A hold: the tickets are taken until <see cref="Reservation.ExpiresAt"/>.</summary>
    [JsonStringEnumMemberName("active")]
    Active,

    /// <summary>Sold.</summary>
    [JsonStringEnumMemberName("confirmed")]
    Confirmed,

    /// <summary>Given back by the client before it expired.</summary>
    [JsonStringEnumMemberName("released")]
    Released,

    /// <summary>Not confirmed in time; the tickets went back by themselves.</summary>
    [JsonStringEnumMemberName("expired")]
    Expired,

    /// <summary>Refunded after confirmation; the tickets went back to every pool.</summary>
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,
}

/// <summary>The body of <c>POST /capacity/{id}/reserve</c>: a hold on one capacity.</summary>
public sealed record ReserveRequest
{
    /// <summary>Tickets to hold, 1 to the server's per-item limit (100 by default).</summary>
    public required int Quantity { get; init; }

    /// <summary>How long the hold lasts; the server's default (15) when null.</summary>
    public int? ReservationMinutes { get; init; }

    /// <summary>A price entry of this capacity whose price is locked for the hold.</summary>
    public Guid? PricingId { get; init; }

    /// <summary>An allocation of this capacity to draw the tickets from instead of the public pool.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Guid? AllocationId { get; init; }

    /// <summary>
    /// Names the buyer for per-buyer limits: 1 to 128 printable characters, opaque to the service (send
    /// a hash of an e-mail, an account or a card). Without one, the hold counts against no one.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BuyerKey { get; init; }

    /// <summary>
    /// Your own reference for the hold, such as an order or cart id: 1 to 128 characters, kept and shown on
    /// every read, never interpreted; <see cref="CapacityClient.ListReservationsAsync"/> finds holds by it.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExternalRef { get; init; }

    /// <summary>
    /// Your own notes on the hold, kept and shown, never interpreted: at most 16 keys of 1 to 40 characters,
    /// values of up to 256 characters, 4,096 bytes of UTF-8 in all.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>The answer of <c>POST /capacity/{id}/reserve</c>.</summary>
/// <param name="Message">A human-readable confirmation.</param>
/// <param name="Reservation">The hold that was placed.</param>
/// <param name="Capacity">The capacity with its counters after the hold.</param>
/// <param name="LockedPrice">The price locked for the hold, when a pricing id was given.</param>
public sealed record ReserveResult(string Message, Reservation Reservation, CapacityDetails Capacity, LockedPrice? LockedPrice);

/// <summary>The body of <c>POST /reservations</c>: a cart whose items are held all or nothing.</summary>
public sealed record CreateReservationRequest
{
    /// <summary>The items, 1 to the server's limit (50 by default).</summary>
    public required IReadOnlyList<ReservationItemRequest> Items { get; init; }

    /// <summary>How long the hold lasts; the server's default (15) when null.</summary>
    public int? ReservationMinutes { get; init; }

    /// <summary>
    /// Names the buyer for per-buyer limits (see <see cref="ReserveRequest.BuyerKey"/>); every item counts
    /// towards the limits over its capacity, and a cart that would pass one is refused whole.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BuyerKey { get; init; }

    /// <summary>Your own reference for the cart (see <see cref="ReserveRequest.ExternalRef"/>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExternalRef { get; init; }

    /// <summary>Your own notes on the cart (see <see cref="ReserveRequest.Metadata"/>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>One item of a cart.</summary>
public sealed record ReservationItemRequest
{
    /// <summary>The capacity to hold tickets of.</summary>
    public required Guid CapacityId { get; init; }

    /// <summary>Tickets to hold, 1 to the server's per-item limit (100 by default).</summary>
    public required int Quantity { get; init; }

    /// <summary>A price entry of that capacity whose price is locked for this item.</summary>
    public Guid? PricingId { get; init; }

    /// <summary>An allocation of that capacity to draw this item from instead of the public pool.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Guid? AllocationId { get; init; }
}

/// <summary>A reservation: a hold, a sale, or one that ended.</summary>
/// <param name="Id">The reservation's id.</param>
/// <param name="Status">Its effective status: a hold past <paramref name="ExpiresAt"/> reads as expired at once.</param>
/// <param name="Items">What it holds, with the price locked per item.</param>
/// <param name="Totals">One entry per currency of the locked prices; empty when no item has a price.</param>
/// <param name="CreatedAt">When the hold was placed.</param>
/// <param name="ExpiresAt">When an unconfirmed hold expires.</param>
/// <param name="ConfirmedAt">When it was confirmed, if it was.</param>
/// <param name="EndedAt">When it was released, expired or cancelled, if it was.</param>
/// <param name="BuyerKey">The buyer the hold named, or null when it named none.</param>
/// <param name="WaitlistId">
/// On a waiting-list offer, the entry it was offered to (the same id as the reservation's); null on any other hold.
/// </param>
/// <param name="ExternalRef">The reference the hold was given, or its entry's on a waiting-list offer; null when none.</param>
/// <param name="Metadata">The notes the hold was given; null when none.</param>
/// <param name="Reclaimed">
/// True only in the answer to a confirm that took back a hold which had expired
/// (<see cref="ExpiredHoldAction.Reclaim"/>); false everywhere else, reads of that same reservation included.
/// </param>
public sealed record Reservation(
    Guid Id,
    ReservationStatus Status,
    IReadOnlyList<ReservationItem> Items,
    IReadOnlyList<ReservationTotal> Totals,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? ConfirmedAt,
    DateTimeOffset? EndedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuyerKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExternalRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Metadata = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Reclaimed = false);

/// <summary>One item of a reservation.</summary>
/// <param name="CapacityId">The capacity the tickets come from.</param>
/// <param name="Quantity">How many tickets; after a refund, in part or whole, how many it still has (0 once the sale is cancelled).</param>
/// <param name="LockedPrice">The price taken when the hold was placed, if one was asked for.</param>
/// <param name="AllocationId">The allocation the tickets were drawn from, or null for the public pool.</param>
/// <param name="CancelledQuantity">Tickets of this item refunded so far (<see cref="CapacityClient.CancelAsync(Guid, IReadOnlyList{ItemQuantity}, string?, CancellationToken)"/>); 0 when none.</param>
public sealed record ReservationItem(
    Guid CapacityId,
    int Quantity,
    LockedPrice? LockedPrice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int CancelledQuantity = 0);

/// <summary>A snapshot of a price entry, taken when the hold was placed; later price changes do not touch it.</summary>
/// <param name="PricingId">The price entry it was taken from.</param>
/// <param name="Name">The entry's name at the time.</param>
/// <param name="UnitPrice">The current price if one was set, else the base price (0 is a real price).</param>
/// <param name="ServiceFee">Per ticket.</param>
/// <param name="FacilityFee">Per ticket.</param>
/// <param name="TaxRate">0 to 1, applied to the subtotal.</param>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="LockedAt">When the snapshot was taken.</param>
public sealed record LockedPrice(
    Guid PricingId,
    string Name,
    decimal UnitPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency,
    DateTimeOffset LockedAt);

/// <summary>What a reservation costs in one currency.</summary>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="Subtotal">Quantity × unit price, over the items in this currency.</param>
/// <param name="Fees">Quantity × (service fee + facility fee).</param>
/// <param name="Tax">Subtotal × tax rate, rounded to cents per item, half away from zero.</param>
/// <param name="Total">Subtotal + fees + tax.</param>
public sealed record ReservationTotal(string Currency, decimal Subtotal, decimal Fees, decimal Tax, decimal Total);

internal sealed record ExtendRequest(int Minutes);

/// <summary>
/// The body of <c>PATCH /reservations/{id}</c>: new target quantities for an active hold, per capacity.
/// Capacities not named keep what they hold.
/// </summary>
public sealed record ChangeReservationRequest
{
    /// <summary>
    /// Each capacity once, with the quantity the hold should have of it: lower gives tickets back, higher
    /// (or a capacity the hold does not have) is checked all or nothing, 0 removes the capacity, all 0
    /// releases the hold. 1 to the server's item limit (50 by default).
    /// </summary>
    public required IReadOnlyList<ChangeItemRequest> Items { get; init; }

    /// <summary>When set, the hold expires this many minutes from now (within its lifetime limit); when null, its expiry stays.</summary>
    public int? ReservationMinutes { get; init; }
}

/// <summary>One capacity's target quantity in a <see cref="ChangeReservationRequest"/>.</summary>
public sealed record ChangeItemRequest
{
    /// <summary>The capacity.</summary>
    public required Guid CapacityId { get; init; }

    /// <summary>The tickets the hold should have of it, 0 to the server's per-item limit (100 by default); 0 removes it.</summary>
    public required int Quantity { get; init; }

    /// <summary>
    /// A price entry of that capacity for the tickets the change adds; without one they lock the current
    /// price of the entry the capacity's item locked. Tickets already held keep their locked price.
    /// </summary>
    public Guid? PricingId { get; init; }
}

/// <summary>Tickets of one capacity of a reservation, named by a partial confirm or a partial refund.</summary>
/// <param name="CapacityId">A capacity the reservation has.</param>
/// <param name="Quantity">How many of its tickets.</param>
public sealed record ItemQuantity(Guid CapacityId, int Quantity);

/// <summary>What a confirm does with a hold that has expired.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExpiredHoldAction>))]
public enum ExpiredHoldAction
{
    /// <summary>
    /// Confirm it after all if every ticket it asks for is still free under every rule, at the prices it
    /// locked; otherwise 409 <c>RESERVATION_EXPIRED</c> with <see cref="CapacityApiException.Shortfall"/>, and nothing changes.
    /// Reserved to a box office: the client's key needs the <see cref="ApiKeyScope.Elevated"/> scope (403 <c>FORBIDDEN</c> otherwise).
    /// </summary>
    [JsonStringEnumMemberName("reclaim")]
    Reclaim,
}

/// <summary>
/// The body of <c>POST /reservations/{id}/confirm</c> when it confirms part of a hold, or one that expired.
/// With neither field set it is the plain confirm.
/// </summary>
public sealed record ConfirmReservationRequest
{
    /// <summary>
    /// The tickets to confirm, 0 to what the hold has of each capacity (at least one in all); capacities not
    /// named confirm none, and the rest of the hold is released in the same step. Null confirms the whole hold.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ItemQuantity>? Items { get; init; }

    /// <summary>
    /// <see cref="ExpiredHoldAction.Reclaim"/> takes back a hold that has expired, if its tickets are still free
    /// (the answer then has <see cref="Reservation.Reclaimed"/>); null refuses an expired hold as a plain confirm does.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ExpiredHoldAction? OnExpired { get; init; }
}

internal sealed record CancelRequest(IReadOnlyList<ItemQuantity> Items);

/// <summary>
/// A capacity that lacks the tickets a reclaim asked for, in a refused reclaim's
/// <see cref="CapacityApiException.Shortfall"/>.
/// </summary>
/// <param name="CapacityId">The capacity.</param>
/// <param name="Requested">The tickets the reclaim wanted of it.</param>
/// <param name="Available">The tickets it has free now.</param>
public sealed record ShortfallItem(Guid CapacityId, long Requested, long Available);

/// <summary>
/// Which reservations <see cref="CapacityClient.ListReservationsAsync"/> finds: those of
/// <see cref="EventId"/>, or those given <see cref="ExternalRef"/>, or both; narrowed by the other fields when set.
/// </summary>
public sealed record ReservationQuery
{
    /// <summary>An event: its reservations, a cart across events under each of them.</summary>
    public string? EventId { get; init; }

    /// <summary>The <see cref="ReserveRequest.ExternalRef"/> the holds were given (or a waiting-list entry's, for its offer).</summary>
    public string? ExternalRef { get; init; }

    /// <summary>Only those with this effective status: a hold past its expiry is <see cref="ReservationStatus.Expired"/>.</summary>
    public ReservationStatus? Status { get; init; }

    /// <summary>Only those that named this buyer.</summary>
    public string? BuyerKey { get; init; }
}

/// <summary>A page of <c>GET /reservations</c>, newest first.</summary>
/// <param name="Reservations">The reservations of this page.</param>
/// <param name="NextAfter">
/// Pass as <c>after</c> for the next page: an opaque cursor, set whenever the page is full (the next one may
/// be empty); null on the last page.
/// </param>
public sealed record ReservationPage(IReadOnlyList<Reservation> Reservations, string? NextAfter);

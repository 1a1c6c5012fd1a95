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
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null);

/// <summary>One item of a reservation.</summary>
/// <param name="CapacityId">The capacity the tickets come from.</param>
/// <param name="Quantity">How many tickets.</param>
/// <param name="LockedPrice">The price taken when the hold was placed, if one was asked for.</param>
/// <param name="AllocationId">The allocation the tickets were drawn from, or null for the public pool.</param>
public sealed record ReservationItem(
    Guid CapacityId,
    int Quantity,
    LockedPrice? LockedPrice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null);

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

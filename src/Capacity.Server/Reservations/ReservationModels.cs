using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Views;

namespace Capacity.Server.Reservations;

internal sealed record ReserveRequest
{
    public required int Quantity { get; init; }
    public int? ReservationMinutes { get; init; }
    public Guid? PricingId { get; init; }
    /// <summary>Draws the tickets from this allocation of the capacity instead of the public pool.</summary>
    public Guid? AllocationId { get; init; }

    /// <summary>Names the buyer for per-buyer limits: an opaque key the platform derives (a hash of an e-mail, an account or a card).</summary>
    public string? BuyerKey { get; init; }
}

internal sealed record CreateReservationRequest
{
    public required ReservationItemRequest[] Items { get; init; }
    public int? ReservationMinutes { get; init; }

    /// <summary>Names the buyer for per-buyer limits; every item counts towards the limits over its capacity.</summary>
    public string? BuyerKey { get; init; }
}

internal sealed record ReservationItemRequest
{
    public required Guid CapacityId { get; init; }
    public required int Quantity { get; init; }
    public Guid? PricingId { get; init; }
    /// <summary>Draws the item from this allocation of its capacity instead of the public pool.</summary>
    public Guid? AllocationId { get; init; }
}

internal sealed record ExtendRequest
{
    public required int Minutes { get; init; }
}

internal sealed record LockedPriceResponse(
    Guid PricingId,
    string Name,
    decimal UnitPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency,
    DateTimeOffset LockedAt)
{
    public static LockedPriceResponse? From(LockedPrice? p) =>
        p is null ? null : new(p.PricingId, p.Name, p.UnitPrice, p.ServiceFee, p.FacilityFee, p.TaxRate, p.Currency, p.LockedAt);
}

/// <summary><c>allocation_id</c> is there only on an item drawn from an allocation: a public item reads as it always did.</summary>
internal sealed record ReservationItemResponse(
    Guid CapacityId,
    int Quantity,
    LockedPriceResponse? LockedPrice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null);

internal sealed record TotalResponse(string Currency, decimal Subtotal, decimal Fees, decimal Tax, decimal Total);

/// <summary><c>buyer_key</c> is there only on a hold that named its buyer, <c>waitlist_id</c> only on a waiting-list offer.</summary>
internal sealed record ReservationResponse(
    Guid Id,
    string Status,
    ReservationItemResponse[] Items,
    TotalResponse[] Totals,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? ConfirmedAt,
    DateTimeOffset? EndedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuyerKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null)
{
    /// <summary>The status is the effective one: a hold past its expiry reads as expired at once.</summary>
    public static ReservationResponse From(Reservation r, DateTimeOffset now) => new(
        r.Id,
        r.EffectiveStatus(now).ToString().ToLowerInvariant(),
        [.. r.Items.Select(i => new ReservationItemResponse(i.CapacityId, i.Quantity, LockedPriceResponse.From(i.LockedPrice), i.AllocationId))],
        [.. Core.Totals.Of(r).Select(t => new TotalResponse(t.Currency, t.Subtotal, t.Fees, t.Tax, t.Total))],
        r.CreatedAt,
        r.ExpiresAt,
        r.ConfirmedAt,
        r.EndedAt,
        r.BuyerKey,
        r.WaitlistId);
}

internal sealed record ReserveResponse(string Message, ReservationResponse Reservation, CapacityResponse Capacity, LockedPriceResponse? LockedPrice);

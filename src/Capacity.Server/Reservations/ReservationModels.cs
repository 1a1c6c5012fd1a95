using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Views;
using Capacity.Server.Http;

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

    /// <summary>The platform's own reference (its order or cart id), 1 to 128 characters; kept, shown and searchable.</summary>
    public string? ExternalRef { get; init; }

    /// <summary>A flat object of strings the platform keeps with the hold: at most 16 keys, values up to 256 characters, 4 KB in all.</summary>
    public Dictionary<string, string>? Metadata { get; init; }
}

internal sealed record CreateReservationRequest
{
    public required ReservationItemRequest[] Items { get; init; }
    public int? ReservationMinutes { get; init; }

    /// <summary>Names the buyer for per-buyer limits; every item counts towards the limits over its capacity.</summary>
    public string? BuyerKey { get; init; }

    /// <summary>The platform's own reference (its order or cart id), 1 to 128 characters; kept, shown and searchable.</summary>
    public string? ExternalRef { get; init; }

    /// <summary>A flat object of strings the platform keeps with the hold: at most 16 keys, values up to 256 characters, 4 KB in all.</summary>
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>The labels a hold request carries, as the core takes them: null when it has neither.</summary>
internal static class Labels
{
    public static ReservationLabels? Of(string? externalRef, Dictionary<string, string>? metadata) =>
        externalRef is null && metadata is null ? null : new ReservationLabels(externalRef, metadata is null ? null : [.. metadata]);
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

/// <summary><c>PATCH /reservations/{id}</c>: new target quantities for an active hold, per capacity.</summary>
internal sealed record ChangeReservationRequest
{
    public required ChangeItemRequest[] Items { get; init; }

    /// <summary>When given, the hold expires this many minutes from now (within its lifetime); otherwise <c>expires_at</c> stays.</summary>
    public int? ReservationMinutes { get; init; }
}

/// <summary>A capacity's target quantity: 0 removes it; <c>pricing_id</c> prices the units the change adds.</summary>
internal sealed record ChangeItemRequest
{
    public required Guid CapacityId { get; init; }
    public required int Quantity { get; init; }
    public Guid? PricingId { get; init; }
}

/// <summary>Units of one capacity of a reservation, named by a partial confirm or refund.</summary>
internal sealed record ItemQuantityRequest
{
    public required Guid CapacityId { get; init; }
    public required int Quantity { get; init; }
}

/// <summary>
/// <c>POST /reservations/{id}/confirm</c>'s optional body: <c>items</c> confirms these quantities and
/// releases the rest; <c>on_expired: "reclaim"</c> confirms an expired hold if its tickets are still free.
/// </summary>
internal sealed record ConfirmRequest
{
    public ItemQuantityRequest[]? Items { get; init; }
    public string? OnExpired { get; init; }
}

/// <summary><c>POST /reservations/{id}/cancel</c>'s optional body: <c>items</c> refunds these quantities only.</summary>
internal sealed record CancelRequest
{
    public ItemQuantityRequest[]? Items { get; init; }
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
        p is null
            ? null
            : new(p.PricingId, p.Name, Money.Show(p.UnitPrice, p.Currency), Money.Show(p.ServiceFee, p.Currency), Money.Show(p.FacilityFee, p.Currency), p.TaxRate, p.Currency, p.LockedAt);
}

/// <summary>
/// <c>allocation_id</c> is there only on an item drawn from an allocation, <c>cancelled_quantity</c> only
/// on an item partly or wholly refunded (<c>quantity</c> is what it still has): any other item reads as it always did.
/// </summary>
internal sealed record ReservationItemResponse(
    Guid CapacityId,
    int Quantity,
    LockedPriceResponse? LockedPrice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? CancelledQuantity = null);

internal sealed record TotalResponse(string Currency, decimal Subtotal, decimal Fees, decimal Tax, decimal Total);

/// <summary>
/// <c>buyer_key</c> is there only on a hold that named its buyer, <c>waitlist_id</c> only on a waiting-list
/// offer, <c>external_ref</c> and <c>metadata</c> only when the hold was given them (an offer carries its
/// entry's <c>external_ref</c>), <c>reclaimed</c> only on the answer to a confirm that reclaimed an expired hold.
/// </summary>
internal sealed record ReservationResponse(
    Guid Id,
    [property: OneOf(typeof(ReservationStatus))] string Status,
    ReservationItemResponse[] Items,
    TotalResponse[] Totals,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? ConfirmedAt,
    DateTimeOffset? EndedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuyerKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExternalRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Dictionary<string, string>? Metadata = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Reclaimed = null)
{
    /// <summary>
    /// A write's answer: the reservation as the command left it. A change decided a moment before the
    /// hold's expiry answers <c>active</c>, as the batch wrote it, though the answer is written after
    /// that instant (a read then says <c>expired</c>, and the sweep expires it whole).
    /// </summary>
    public static ReservationResponse AsDecided(Reservation r) => From(r, DateTimeOffset.MinValue);

    /// <summary>The status is the effective one: a hold past its expiry reads as expired at once.</summary>
    public static ReservationResponse From(Reservation r, DateTimeOffset now) => new(
        r.Id,
        r.EffectiveStatus(now).ApiName(),
        [.. r.Items.Select(i => new ReservationItemResponse(
            i.CapacityId, i.Quantity, LockedPriceResponse.From(i.LockedPrice), i.AllocationId, i.CancelledQuantity > 0 ? i.CancelledQuantity : null))],
        [.. Core.Totals.Of(r).Select(t => new TotalResponse(t.Currency, t.Subtotal, t.Fees, t.Tax, t.Total))],
        r.CreatedAt,
        r.ExpiresAt,
        r.ConfirmedAt,
        r.EndedAt,
        r.BuyerKey,
        r.WaitlistId,
        r.Labels?.ExternalRef,
        r.Labels?.Metadata is { } metadata ? new Dictionary<string, string>(metadata) : null);
}

internal sealed record ReserveResponse(string Message, ReservationResponse Reservation, CapacityResponse Capacity, LockedPriceResponse? LockedPrice);

/// <summary>A page of <c>GET /reservations</c>, newest first; pass <c>next_after</c> as <c>after</c> for the next (null on the last page).</summary>
internal sealed record ReservationPageResponse(ReservationResponse[] Reservations, string? NextAfter);

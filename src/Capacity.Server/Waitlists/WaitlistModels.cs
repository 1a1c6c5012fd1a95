using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Waitlists;

internal sealed record JoinWaitlistRequest
{
    public required WaitlistItemRequest[] Items { get; init; }

    /// <summary>Names the buyer: an offer counts towards the buyer's limits, and a buyer cannot queue past them.</summary>
    public string? BuyerKey { get; init; }

    /// <summary>The platform's own reference (an order or a customer id), kept and shown.</summary>
    public string? ExternalRef { get; init; }
}

internal sealed record WaitlistItemRequest
{
    public required Guid CapacityId { get; init; }
    public required int Quantity { get; init; }
}

internal sealed record WaitlistItemResponse(Guid CapacityId, int Quantity);

/// <summary>
/// An entry. <c>position</c> is a number while it waits (1: next in line among the entries that share a
/// capacity with it; null otherwise, and in a list); <c>offer_reservation_id</c> once offered (the
/// offer is an ordinary reservation with the entry's id). <c>sequence</c> orders an event's entries
/// and is the cursor of the list. <c>lapsed_reason</c> says why a lapsed entry lapsed (absent otherwise,
/// and for entries that lapsed before migration 020). <c>held_back_by_limit_id</c> (on <c>GET</c> only)
/// names a limit its buyer is past while it waits: it is passed over when its turn comes.
/// </summary>
internal sealed record WaitlistEntryResponse(
    Guid Id,
    string EventId,
    [property: OneOf(typeof(WaitlistStatus))] string Status,
    WaitlistItemResponse[] Items,
    long? Position,
    Guid? OfferReservationId,
    long Sequence,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuyerKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExternalRef = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), OneOf("offer_expired", "offer_released", "too_large", "sale_ended", "buyer_key_required")] string? LapsedReason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? HeldBackByLimitId = null)
{
    public static WaitlistEntryResponse From(WaitlistEntryView e) => new(
        e.Id, e.EventId, StatusName(e.Status), [.. e.Items.Select(i => new WaitlistItemResponse(i.CapacityId, i.Quantity))],
        e.Status == WaitlistStatus.Waiting ? e.Position : null, e.OfferReservationId, e.Sequence, e.CreatedAt, e.UpdatedAt, e.BuyerKey, e.ExternalRef,
        e.LapsedReason is { } reason ? LapseName(reason) : null);

    public static string StatusName(WaitlistStatus status) => status.ApiName();

    public static string LapseName(WaitlistLapse reason) => reason switch
    {
        WaitlistLapse.OfferExpired => "offer_expired",
        WaitlistLapse.OfferReleased => "offer_released",
        WaitlistLapse.TooLarge => "too_large",
        WaitlistLapse.SaleEnded => "sale_ended",
        _ => "buyer_key_required",
    };
}

/// <summary>A page of a capacity's entries in the order they joined; pass <c>next_after</c> as <c>after</c> for the next.</summary>
internal sealed record WaitlistPageResponse(Guid CapacityId, WaitlistEntryResponse[] Entries, long? NextAfter);

using System.Text.Json.Serialization;
using Capacity.Server.Views;

namespace Capacity.Server.Events;

internal sealed record EventSummaryResponse(string EventId, int Capacities, DateTimeOffset CreatedAt);

internal sealed record EventListResponse(EventSummaryResponse[] Events, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NextAfter = null);

/// <summary>An active hold about to expire, with its tickets by capacity, so a viewer can say which sections it holds.</summary>
internal sealed record ExpiringHoldResponse(Guid ReservationId, DateTimeOffset ExpiresAt, int Quantity, ExpiringHoldItemResponse[] Items);

internal sealed record ExpiringHoldItemResponse(Guid CapacityId, int Quantity);

internal sealed record HoldsResponse(long Active, ExpiringHoldResponse[] Expiring);

/// <summary>What the live stream sends: the event's capacities, totals and holds about to expire.</summary>
internal sealed record EventStreamSnapshot(
    string EventId,
    CapacityResponse[] Capacity,
    CapacityTotalsResponse Totals,
    HoldsResponse Holds);

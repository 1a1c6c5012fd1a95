using Capacity.Server.Views;

namespace Capacity.Server.Events;

internal sealed record EventSummaryResponse(string EventId, int Capacities, DateTimeOffset CreatedAt);

internal sealed record EventListResponse(EventSummaryResponse[] Events);

internal sealed record ExpiringHoldResponse(Guid ReservationId, DateTimeOffset ExpiresAt, int Quantity);

internal sealed record HoldsResponse(long Active, ExpiringHoldResponse[] Expiring);

/// <summary>What the live stream sends: the event's capacities, totals and holds about to expire.</summary>
internal sealed record EventStreamSnapshot(
    string EventId,
    CapacityResponse[] Capacity,
    CapacityTotalsResponse Totals,
    HoldsResponse Holds);

using Capacity.Server.Views;

namespace Capacity.Server.Events;

public sealed record EventSummaryResponse(string EventId, int Capacities, DateTimeOffset CreatedAt);

public sealed record EventListResponse(EventSummaryResponse[] Events);

public sealed record ExpiringHoldResponse(Guid ReservationId, DateTimeOffset ExpiresAt, int Quantity);

public sealed record HoldsResponse(long Active, ExpiringHoldResponse[] Expiring);

/// <summary>What the live stream sends: the event's capacities, totals and holds about to expire.</summary>
public sealed record EventStreamSnapshot(
    string EventId,
    CapacityResponse[] Capacity,
    CapacityTotalsResponse Totals,
    HoldsResponse Holds);

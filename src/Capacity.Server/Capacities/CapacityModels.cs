using Capacity.Core;

namespace Capacity.Server.Capacities;

public sealed record CreateCapacityRequest
{
    public required string SectionName { get; init; }
    public string? SectionCode { get; init; }
    /// <summary>Null or absent: unlimited.</summary>
    public int? TotalCapacity { get; init; }
    public Guid[]? ParentIds { get; init; }
    public string? Mode { get; init; }
    public string? ScheduleId { get; init; }
    public bool? IsActive { get; init; }
}

/// <summary>The fields a PUT may send, each optional; read field by field so that null can clear a value.</summary>
public sealed record UpdateCapacityRequest(string? SectionName, string? SectionCode, int? TotalCapacity, bool? IsActive);

public sealed record CapacityResponse(
    Guid Id,
    string EventId,
    string? ScheduleId,
    string SectionName,
    string? SectionCode,
    string Mode,
    int? TotalCapacity,
    long? AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool IsActive,
    Guid[] ParentIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static CapacityResponse From(CapacityView v) => new(
        v.Id, v.EventId, v.ScheduleId, v.SectionName, v.SectionCode, ModeName(v.Mode), v.Total, v.Available,
        v.Reserved, v.Sold, v.IsActive, v.ParentIds, v.CreatedAt, v.UpdatedAt);

    public static string ModeName(CapacityMode mode) => mode.ToString().ToLowerInvariant();
}

public sealed record CapacityListResponse(CapacityResponse[] Capacity);

public sealed record CapacityTotalsResponse(
    string EventId,
    long TotalCapacity,
    long AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool HasUnlimited);

public sealed record CheckRequest
{
    public required int Quantity { get; init; }
}

public sealed record CheckResponse(bool Available, int Quantity, long? AvailableCapacity, bool IsActive);

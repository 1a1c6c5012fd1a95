using Capacity.Core;
using Capacity.Server.Views;

namespace Capacity.Server.Capacities;

internal sealed record CreateCapacityRequest
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
internal sealed record UpdateCapacityRequest(string? SectionName, string? SectionCode, int? TotalCapacity, bool? IsActive);

internal sealed record CapacityListResponse(CapacityResponse[] Capacity);

internal sealed record CheckRequest
{
    public required int Quantity { get; init; }
}

internal sealed record CheckResponse(bool Available, int Quantity, long? AvailableCapacity, bool IsActive);

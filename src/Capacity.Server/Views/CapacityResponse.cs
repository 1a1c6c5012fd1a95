using Capacity.Core;

namespace Capacity.Server.Views;

/// <summary>A capacity as every route that shows one shows it: its own answer, a hold's answer and the live stream.</summary>
internal sealed record CapacityResponse(
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

/// <summary>An event's totals over its roots, so each pool counts once.</summary>
internal sealed record CapacityTotalsResponse(
    string EventId,
    long TotalCapacity,
    long AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool HasUnlimited);

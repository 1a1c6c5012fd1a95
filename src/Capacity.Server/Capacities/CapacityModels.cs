using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;
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

    /// <summary>Before this instant holds and checks answer SALE_NOT_OPEN.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? SaleStartsAt { get; init; }

    /// <summary>From this instant holds and checks answer SALE_CLOSED; holds placed before may still be confirmed.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? SaleEndsAt { get; init; }

    /// <summary>Closed to holds until that capacity (of the same event) first sells out; then open for good.</summary>
    public Guid? OpensAfterSoldOutOf { get; init; }

    /// <summary>The first time it sells out it closes (is_active false, closed_reason sold_out) until a PUT reopens it.</summary>
    public bool? CloseWhenSoldOut { get; init; }

    /// <summary>Holds may take a limited capacity this far past its total (0 to 1,000,000).</summary>
    public int? OverbookLimit { get; init; }

    /// <summary>Webhook subscribers hear <c>capacity.low</c> when availability falls to or below this (0 to 1,000,000).</summary>
    public int? LowWatermark { get; init; }
}

/// <summary>The fields a PUT may send, each optional; read field by field so that null can clear a value.</summary>
internal sealed record UpdateCapacityRequest(string? SectionName, string? SectionCode, int? TotalCapacity, bool? IsActive);

/// <summary>
/// An event's capacities, or one page of them: <c>next_after</c> is the id to pass as <c>after</c> for
/// the next page, absent on the last (and always without <c>limit</c>, which lists them all).
/// </summary>
internal sealed record CapacityListResponse(CapacityResponse[] Capacity, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

internal sealed record CheckRequest
{
    public required int Quantity { get; init; }
}

internal sealed record CheckResponse(bool Available, int Quantity, long? AvailableCapacity, bool IsActive);

using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;
using Capacity.Server.Views;

namespace Capacity.Server.Allocations;

internal sealed record CreateAllocationRequest
{
    public required string Name { get; init; }

    /// <summary>How many tickets to set aside: the allocation's size.</summary>
    public required int Quantity { get; init; }

    /// <summary>When the sweeper closes it; absent or null: never.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>
/// The fields a PUT may send, each optional; read field by field so that null can clear <c>expires_at</c>.
/// Documentation only: every field is optional here and nullable exactly where that reader takes null.
/// </summary>
internal sealed record UpdateAllocationRequest
{
    public string Name { get; init; } = "";

    /// <summary>The new size: never below what it holds and has sold.</summary>
    public int Quantity { get; init; }

    /// <summary>Null: never closed by the sweeper.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? ExpiresAt { get; init; }
}

internal sealed record ReleaseAllocationRequest
{
    /// <summary>Idle tickets to give back to the public.</summary>
    public required int Quantity { get; init; }
}

/// <summary>An allocation: <c>size</c> = <c>held</c> + <c>sold</c> + <c>idle</c>.</summary>
internal sealed record AllocationResponse(
    Guid Id,
    Guid CapacityId,
    string EventId,
    string Name,
    long Size,
    long Held,
    long Sold,
    long Idle,
    DateTimeOffset? ExpiresAt,
    [property: OneOf(typeof(AllocationStatus))] string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static AllocationResponse From(AllocationView a) => new(
        a.Id, a.CapacityId, a.EventId, a.Name, a.Size, a.Held, a.Sold, a.Idle, a.ExpiresAt,
        AllocationSummaryResponse.StatusName(a.Status), a.CreatedAt, a.UpdatedAt);

    public static AllocationResponse From(Allocation a) => From(AllocationView.Of(a));
}

internal sealed record AllocationListResponse(AllocationResponse[] Allocations, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

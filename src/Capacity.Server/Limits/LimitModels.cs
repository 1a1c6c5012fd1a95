using System.Text.Json.Serialization;
using Capacity.Core;

namespace Capacity.Server.Limits;

internal sealed record CreateLimitRequest
{
    public required string Name { get; init; }

    /// <summary>The capacities of this event whose tickets count towards the limit; fixed once created.</summary>
    public required Guid[] CapacityIds { get; init; }

    public required int PerBuyerMax { get; init; }

    /// <summary>Whether a hold on any of the capacities must name its buyer.</summary>
    public bool RequireBuyerKey { get; init; }
}

/// <summary>The fields a PUT may send, each optional; read field by field (<see cref="Http.PatchReader"/>).</summary>
internal sealed record UpdateLimitRequest
{
    public string Name { get; init; } = "";
    public int PerBuyerMax { get; init; }
    public bool RequireBuyerKey { get; init; }
}

internal sealed record LimitResponse(
    Guid Id,
    string EventId,
    string Name,
    Guid[] CapacityIds,
    int PerBuyerMax,
    bool RequireBuyerKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static LimitResponse From(BuyerLimitView l) =>
        new(l.Id, l.EventId, l.Name, l.CapacityIds, l.PerBuyerMax, l.RequireBuyerKey, l.CreatedAt, l.UpdatedAt);

    public static LimitResponse From(BuyerLimit l) => From(BuyerLimitView.Of(l));
}

internal sealed record LimitListResponse(LimitResponse[] Limits, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>What counts against a limit for one buyer (active holds, sales, units waited for), and the part waited for, as last committed.</summary>
internal sealed record LimitUsageResponse(Guid LimitId, string BuyerKey, long Used, long Waiting, int PerBuyerMax);

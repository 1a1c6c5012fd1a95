using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Views;

/// <summary>
/// A capacity as every route that shows one shows it: its own answer, a hold's answer and the live stream.
/// <c>allocations</c> is there only for a capacity that has had one (<see cref="CapacityNode.AllocationCount"/>),
/// so a capacity without any reads as it always did and costs no read of allocations. <c>waitlist</c>
/// is there once the capacity has had a waiting list, and <c>waitlist_demand</c> (units of its free
/// room kept for waiting entries, its own and those below it, each level passing up at most what it
/// could still give them: public holds cannot take them) once it has one or is owed units; both come from the row, so they cost no read either.
/// </summary>
internal sealed record CapacityResponse(
    Guid Id,
    string EventId,
    string? ScheduleId,
    string SectionName,
    string? SectionCode,
    [property: OneOf(typeof(CapacityMode))] string Mode,
    int? TotalCapacity,
    long? AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool IsActive,
    Guid[] ParentIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AllocationSummaryResponse[]? Allocations = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] WaitlistSettingsResponse? Waitlist = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? WaitlistDemand = null,
    [property: OneOf("scheduled", "on_sale", "sold_out", "closed")] string State = "on_sale",
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? NextChangeAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? SaleStartsAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? SaleEndsAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? OpensAfterSoldOutOf = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? CloseWhenSoldOut = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), OneOf("sold_out")] string? ClosedReason = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? OverbookLimit = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? OverbookedBy = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? LowWatermark = null)
{
    /// <summary>
    /// The capacity at <paramref name="now"/>: <c>state</c> always, with <c>next_change_at</c> when the clock
    /// will change it; the sale rules' fields only on a capacity that has some, so any other reads as before.
    /// </summary>
    public static CapacityResponse From(CapacityView v, DateTimeOffset now)
    {
        var (state, next) = SaleRulesOf.State(v.Sale, v.IsActive, v.Available, now, v.Above);
        var rules = v.Sale;
        return new(
            v.Id, v.EventId, v.ScheduleId, v.SectionName, v.SectionCode, ModeName(v.Mode), v.Total, v.Available,
            v.Reserved, v.Sold, v.IsActive, v.ParentIds, v.CreatedAt, v.UpdatedAt, null,
            v.Waitlist is { } w ? new WaitlistSettingsResponse(w.Enabled, w.OfferMinutes, PolicyName(w.Policy), v.Waiting, v.Offered) : null,
            v.Waitlist is not null || v.WaitlistDemand > 0 ? v.WaitlistDemand : null,
            StateName(state),
            next,
            rules?.StartsAt,
            rules?.EndsAt,
            rules?.OpensAfter,
            rules is null ? null : rules.CloseWhenSoldOut,
            rules?.ClosedReason,
            rules is null ? null : rules.OverbookLimit,
            rules is { OverbookLimit: > 0 } && v.Total is { } total ? Math.Max(0, v.Reserved + v.Sold - total) : null,
            rules?.LowWatermark);
    }

    public static string StateName(SaleState state) => state switch
    {
        SaleState.Scheduled => "scheduled",
        SaleState.OnSale => "on_sale",
        SaleState.SoldOut => "sold_out",
        _ => "closed",
    };

    public static string PolicyName(WaitlistPolicy policy) => policy == WaitlistPolicy.Fifo ? "fifo" : "first_fit";

    /// <summary>The capacity with its allocations, oldest first; null for a capacity that has none, which omits the member.</summary>
    public static CapacityResponse From(CapacityView v, IReadOnlyList<Allocation>? allocations, DateTimeOffset now) =>
        allocations is null ? From(v, now) : From(v, now) with { Allocations = [.. allocations.Select(AllocationSummaryResponse.From)] };

    public static string ModeName(CapacityMode mode) => mode.ApiName();
}

/// <summary>A capacity's waiting list: its settings, and the units of its own entries waiting and offered now.</summary>
internal sealed record WaitlistSettingsResponse(bool Enabled, int OfferMinutes, [property: OneOf("fifo", "first_fit")] string Policy, long Waiting, long Offered);

/// <summary>An allocation as a capacity lists it: what was set aside and where its units are.</summary>
internal sealed record AllocationSummaryResponse(
    Guid Id,
    string Name,
    long Size,
    long Held,
    long Sold,
    long Idle,
    [property: OneOf(typeof(AllocationStatus))] string Status,
    DateTimeOffset? ExpiresAt)
{
    public static AllocationSummaryResponse From(Allocation a) =>
        new(a.Id, a.Name, a.Size, a.Held, a.Sold, a.Idle, StatusName(a.Status), a.ExpiresAt);

    public static string StatusName(AllocationStatus status) => status == AllocationStatus.Open ? "open" : "closed";
}

/// <summary>An event's totals over its roots, so each pool counts once.</summary>
internal sealed record CapacityTotalsResponse(
    string EventId,
    long TotalCapacity,
    long AvailableCapacity,
    long ReservedCapacity,
    long SoldCount,
    bool HasUnlimited);

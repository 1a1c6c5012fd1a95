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

    /// <summary>Closed to holds until that capacity (of the same event) first sells out or its own sale window ends; then open for good.</summary>
    public Guid? OpensAfterSoldOutOf { get; init; }

    /// <summary>The first time it sells out it closes (is_active false, closed_reason sold_out) until a PUT reopens it.</summary>
    public bool? CloseWhenSoldOut { get; init; }

    /// <summary>Holds may take a limited capacity this far past its total (0 to 1,000,000).</summary>
    public int? OverbookLimit { get; init; }

    /// <summary>Webhook subscribers hear <c>capacity.low</c> when availability falls to or below this (0 to 1,000,000).</summary>
    public int? LowWatermark { get; init; }
}

/// <summary>
/// The body of <c>PUT /capacity/{id}</c> as the OpenAPI document shows it: every field optional, sent
/// only to change it. Documentation only: the handler reads the body field by field (<see cref="PatchReader"/>)
/// because absent keeps a value and null clears one, which a typed body cannot tell apart. So each
/// field here is nullable exactly where that reader takes null, and named and typed as in
/// <see cref="CreateCapacityRequest"/>; the initial values are never read.
/// </summary>
internal sealed record UpdateCapacityRequest
{
    public string SectionName { get; init; } = "";

    /// <summary>Null clears it.</summary>
    public string? SectionCode { get; init; }

    /// <summary>Null: unlimited. Never below reserved + sold.</summary>
    public int? TotalCapacity { get; init; }

    public bool IsActive { get; init; }

    /// <summary>Null removes the start.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? SaleStartsAt { get; init; }

    /// <summary>Null removes the end.</summary>
    [JsonConverter(typeof(InstantConverter))]
    public DateTimeOffset? SaleEndsAt { get; init; }

    /// <summary>Set once: on a capacity that follows one already, null or another id is refused.</summary>
    public Guid? OpensAfterSoldOutOf { get; init; }

    public bool CloseWhenSoldOut { get; init; }

    public int OverbookLimit { get; init; }

    /// <summary>Null removes it.</summary>
    public int? LowWatermark { get; init; }

    /// <summary>Opens, changes or closes the waiting list; never null.</summary>
    public UpdateWaitlistRequest Waitlist { get; init; } = new();
}

/// <summary>The <c>waitlist</c> of a PUT: the fields sent change, the others keep their value (documentation only, as above).</summary>
internal sealed record UpdateWaitlistRequest
{
    public bool Enabled { get; init; }

    public int OfferMinutes { get; init; }

    [OneOf("fifo", "first_fit")]
    public string Policy { get; init; } = "fifo";
}

/// <summary>
/// An event's capacities, or one page of them: <c>next_after</c> is the id to pass as <c>after</c> for
/// the next page, absent on the last (and always without <c>limit</c>, which lists them all).
/// </summary>
internal sealed record CapacityListResponse(CapacityResponse[] Capacity, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

internal sealed record CheckRequest
{
    public required int Quantity { get; init; }
}

/// <param name="InactiveCapacityId">When <paramref name="IsActive"/> is false: the capacity or pool that is inactive, as a hold's refusal names it.</param>
/// <param name="ClosedReason">When that one was closed by its sold-out rule: <c>sold_out</c> (offer the next tier); absent when switched off by hand.</param>
internal sealed record CheckResponse(
    bool Available,
    int Quantity,
    long? AvailableCapacity,
    bool IsActive,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? InactiveCapacityId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClosedReason = null);

using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>The body of <c>POST /events/{eventId}/limits</c>.</summary>
public sealed record CreateLimitRequest
{
    /// <summary>The limit's name, such as "Four per person".</summary>
    public required string Name { get; init; }

    /// <summary>
    /// The capacities of the event whose tickets count (1 to 100), fixed once created: name every section
    /// the limit covers, since an item counts only when its own capacity is one of them.
    /// </summary>
    public required IReadOnlyList<Guid> CapacityIds { get; init; }

    /// <summary>The most tickets one buyer may have in active holds, sales and waiting-list entries over those capacities, 1 to 1,000,000.</summary>
    public required int PerBuyerMax { get; init; }

    /// <summary>When true, a hold on any of the capacities without a buyer key is refused (400 <c>BUYER_KEY_REQUIRED</c>).</summary>
    public bool RequireBuyerKey { get; init; }
}

/// <summary>
/// The body of <c>PUT /limits/{id}</c>: only the fields that are set are sent. The capacities cannot
/// change: delete the limit and create another.
/// </summary>
public sealed record UpdateLimitRequest
{
    /// <summary>A new name.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> Name { get; init; }

    /// <summary>A new maximum; lowering it below what a buyer has refuses that buyer's next holds and cancels nothing.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int> PerBuyerMax { get; init; }

    /// <summary>Whether holds on the limit's capacities must name their buyer.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<bool> RequireBuyerKey { get; init; }
}

/// <summary>A per-buyer limit: "at most N tickets per buyer" over some capacities of one event.</summary>
/// <param name="Id">The limit's id, chosen by the server.</param>
/// <param name="EventId">The event whose capacities it covers.</param>
/// <param name="Name">The limit's name.</param>
/// <param name="CapacityIds">The capacities whose tickets count towards it.</param>
/// <param name="PerBuyerMax">The most tickets one buyer may have in active holds, sales and waiting-list entries over them.</param>
/// <param name="RequireBuyerKey">Whether a hold on them must carry a buyer key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record LimitDetails(
    Guid Id,
    string EventId,
    string Name,
    IReadOnlyList<Guid> CapacityIds,
    int PerBuyerMax,
    bool RequireBuyerKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The answer of <c>GET /events/{eventId}/limits</c>: every limit, or one page of them.</summary>
/// <param name="Limits">The event's limits (of this page), oldest first.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null on the last page, and on a list asked for whole.</param>
public sealed record LimitList(
    IReadOnlyList<LimitDetails> Limits,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>The answer of <c>GET /limits/{id}/usage</c>: one buyer's standing against a limit, as last committed.</summary>
/// <param name="LimitId">The limit.</param>
/// <param name="BuyerKey">The buyer.</param>
/// <param name="Used">
/// What counts against the limit for the buyer over its capacities: tickets in active holds and confirmed
/// sales, and the units the buyer's waiting-list entries still wait for there.
/// </param>
/// <param name="PerBuyerMax">The limit's maximum.</param>
/// <param name="Waiting">The part of <paramref name="Used"/> the buyer waits for on waiting lists (read apart: in a busy moment a commit newer or older).</param>
public sealed record LimitUsage(Guid LimitId, string BuyerKey, long Used, int PerBuyerMax, long Waiting = 0);

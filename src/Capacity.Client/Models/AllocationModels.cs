using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>Whether an allocation still takes holds.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AllocationStatus>))]
public enum AllocationStatus
{
    /// <summary>Takes holds that name it; its idle tickets are kept from the public.</summary>
    [JsonStringEnumMemberName("open")]
    Open,

    /// <summary>
    /// Closed by hand or at its <c>expires_at</c>: its idle tickets went back to the public, it takes no
    /// holds, and tickets its live holds free go to the public too.
    /// </summary>
    [JsonStringEnumMemberName("closed")]
    Closed,
}

/// <summary>The body of <c>POST /capacity/{id}/allocations</c>.</summary>
public sealed record CreateAllocationRequest
{
    /// <summary>Who the tickets are set aside for, such as "Box office" or "Sponsor".</summary>
    public required string Name { get; init; }

    /// <summary>Tickets to set aside, 1 to 1,000,000: the allocation's size. Charged like a hold of that size.</summary>
    public required int Quantity { get; init; }

    /// <summary>When the allocation closes by itself (in the future); never when null.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>
/// The body of <c>PUT /allocations/{id}</c>: only the fields that are set are sent. <c>held</c>,
/// <c>sold</c> and <c>idle</c> are never writable; holds, sales and releases move them.
/// </summary>
public sealed record UpdateAllocationRequest
{
    /// <summary>A new name.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> Name { get; init; }

    /// <summary>
    /// A new size. Growing is checked like a hold; shrinking gives idle tickets back to the public and
    /// is refused below <c>held + sold</c>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<int> Quantity { get; init; }

    /// <summary>A new time at which it closes by itself, or null to keep it open until closed by hand.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<DateTimeOffset?> ExpiresAt { get; init; }
}

/// <summary>
/// Part of a capacity set aside for a box office, a sponsor or a sales channel, as
/// <c>GET /allocations/{id}</c> answers it. <c>Size = Held + Sold + Idle</c>.
/// </summary>
/// <param name="Id">The allocation's id, chosen by the server; pass it as an allocation id to hold from it.</param>
/// <param name="CapacityId">The capacity it is part of.</param>
/// <param name="EventId">That capacity's event.</param>
/// <param name="Name">Who it is for.</param>
/// <param name="Size">Tickets set aside.</param>
/// <param name="Held">Tickets in active holds drawn from it.</param>
/// <param name="Sold">Tickets in confirmed reservations drawn from it.</param>
/// <param name="Idle">Tickets still free for holds that name it.</param>
/// <param name="ExpiresAt">When it closes by itself, or null.</param>
/// <param name="Status">Open or closed.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it or its counters last changed.</param>
public sealed record AllocationDetails(
    Guid Id,
    Guid CapacityId,
    string EventId,
    string Name,
    long Size,
    long Held,
    long Sold,
    long Idle,
    DateTimeOffset? ExpiresAt,
    AllocationStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The answer of <c>GET /capacity/{id}/allocations</c>: every allocation, or one page of them.</summary>
/// <param name="Allocations">The capacity's allocations (of this page), oldest first, closed ones included.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null on the last page, and on a list asked for whole.</param>
public sealed record AllocationList(
    IReadOnlyList<AllocationDetails> Allocations,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

/// <summary>An allocation as a capacity lists it (<see cref="CapacityDetails.Allocations"/>).</summary>
/// <param name="Id">The allocation.</param>
/// <param name="Name">Who it is for.</param>
/// <param name="Size">Tickets set aside.</param>
/// <param name="Held">Tickets in active holds drawn from it.</param>
/// <param name="Sold">Tickets sold from it.</param>
/// <param name="Idle">Tickets still free for holds that name it.</param>
/// <param name="Status">Open or closed.</param>
/// <param name="ExpiresAt">When it closes by itself, or null.</param>
public sealed record AllocationSummary(
    Guid Id,
    string Name,
    long Size,
    long Held,
    long Sold,
    long Idle,
    AllocationStatus Status,
    DateTimeOffset? ExpiresAt);

internal sealed record ReleaseAllocationRequest(int Quantity);

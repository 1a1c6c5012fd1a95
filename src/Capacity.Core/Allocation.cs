namespace Capacity.Core;

public enum AllocationStatus
{
    /// <summary>Takes holds; its idle units are kept from the public.</summary>
    Open,
    /// <summary>Takes no holds; it gave its idle units back, and units its live holds free go back to the public.</summary>
    Closed,
}

/// <summary>
/// A block of one capacity set aside for a box office, a sponsor or a sales channel. Its whole
/// <see cref="Size"/> less what it sold is charged to the capacity and every ancestor as reserved, so
/// public availability excludes it; holds drawn from it move units from idle to held without touching
/// a node. Mutable for the same reason as <see cref="CapacityNode"/>: the working set owns one
/// instance per row for the length of a batch.
/// </summary>
public sealed class Allocation
{
    public required Guid Id { get; init; }
    public required Guid TenantId { get; init; }
    public required Guid CapacityId { get; init; }
    public required string EventId { get; init; }
    public required string Name { get; set; }

    /// <summary>Units set aside: held + sold + idle. Charged to the nodes as reserved, less <see cref="Sold"/>.</summary>
    public long Size { get; set; }

    /// <summary>Units in active holds drawn from this allocation.</summary>
    public long Held { get; set; }

    /// <summary>Units confirmed from this allocation (and not cancelled).</summary>
    public long Sold { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }
    public AllocationStatus Status { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Units set aside and not in a hold or a sale: what a new hold may draw.</summary>
    public long Idle => Size - Held - Sold;

    /// <summary>What the allocation charges its capacity and every ancestor as reserved.</summary>
    public long Charged => Size - Sold;

    /// <summary>The working-set epoch in which this allocation's change was last recorded.</summary>
    internal long RecordedIn;

    public Allocation Clone()
    {
        var copy = (Allocation)MemberwiseClone();
        copy.RecordedIn = 0;
        return copy;
    }
}

/// <summary>An allocation as it was at the moment of a decision: what an answer carries.</summary>
public sealed record AllocationView(
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
    DateTimeOffset UpdatedAt)
{
    public static AllocationView Of(Allocation a) =>
        new(a.Id, a.CapacityId, a.EventId, a.Name, a.Size, a.Held, a.Sold, a.Idle, a.ExpiresAt, a.Status, a.CreatedAt, a.UpdatedAt);
}

namespace Capacity.Core;

/// <summary>Sets <paramref name="Size"/> units of a capacity aside, charged like a hold of that size.</summary>
public sealed record CreateAllocation(
    Guid TenantId,
    Guid Id,
    Guid CapacityId,
    string Name,
    int Size,
    DateTimeOffset? ExpiresAt) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.Add(CapacityId);
        // Looked up so that a reused id is refused by the core rather than failing the batch.
        keys.Allocations.Add(Id);
    }
}

/// <summary>Renames, resizes (grow checked like a hold, shrink not below held + sold) or re-dates an allocation.</summary>
public sealed record UpdateAllocation(
    Guid TenantId,
    Guid Id,
    Change<string> Name,
    Change<int> Size,
    Change<DateTimeOffset?> ExpiresAt) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Allocations.Add(Id);
}

/// <summary>Gives <paramref name="Quantity"/> idle units back to the public.</summary>
public sealed record ReleaseAllocation(Guid TenantId, Guid Id, int Quantity) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Allocations.Add(Id);
}

/// <summary>Gives every idle unit back and refuses new holds from the allocation.</summary>
public sealed record CloseAllocation(Guid TenantId, Guid Id) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Allocations.Add(Id);
}

/// <summary>The sweeper's command: close those of these allocations that are still open and past their expiry.</summary>
public sealed record CloseDueAllocations(Guid[] AllocationIds) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Allocations.UnionWith(AllocationIds);
}

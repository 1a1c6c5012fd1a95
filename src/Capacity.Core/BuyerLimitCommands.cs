namespace Capacity.Core;

public sealed record CreateBuyerLimit(
    Guid TenantId,
    Guid Id,
    string EventId,
    string Name,
    Guid[] CapacityIds,
    int PerBuyerMax,
    bool RequireBuyerKey) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.UnionWith(CapacityIds);
        keys.LimitCapacities.UnionWith(CapacityIds);
        keys.Limits.Add(Id);
    }
}

public sealed record UpdateBuyerLimit(
    Guid TenantId,
    Guid Id,
    Change<string> Name,
    Change<int> PerBuyerMax,
    Change<bool> RequireBuyerKey) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Limits.Add(Id);
}

public sealed record DeleteBuyerLimit(Guid TenantId, Guid Id) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Limits.Add(Id);
}

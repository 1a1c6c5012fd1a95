namespace Capacity.Core;

/// <summary>A field of a partial update: either left as it is or set to a value (which may be null).</summary>
public readonly record struct Change<T>(bool IsSet, T Value)
{
    public static Change<T> Keep => default;
    public static Change<T> To(T value) => new(true, value);
    public T Or(T current) => IsSet ? Value : current;
}

/// <summary>
/// Every state change is one of these. Ids of new rows are chosen by the caller, so that deciding is
/// deterministic: the same commands in the same order give the same state.
/// </summary>
public abstract record Command
{
    /// <summary>Adds the ids this command reads, so the engine can load them before deciding.</summary>
    public void CollectKeys(LoadKeys keys)
    {
        AddKeys(keys);
        keys.MayFreeUnits |= MayFreeUnits;
    }

    /// <summary>The ids this command reads (<see cref="CollectKeys"/>).</summary>
    protected abstract void AddKeys(LoadKeys keys);

    /// <summary>
    /// Whether deciding this command may give units back to a capacity, or open a capacity, that
    /// waiting entries are owed units on: then the batch settles waiting lists and must have them
    /// loaded (<see cref="LoadKeys.QueueEvents"/>). Every command may, unless it says otherwise; a
    /// hold only takes units (a hold that sells out a tier opening the next is seen by the load).
    /// </summary>
    protected virtual bool MayFreeUnits => true;
}

public sealed record CreateCapacity(
    Guid TenantId,
    Guid Id,
    string EventId,
    string? ScheduleId,
    string SectionName,
    string? SectionCode,
    int? Total,
    Guid[] ParentIds,
    bool IsActive,
    CapacityMode? Mode,
    SaleRules? Sale = null,
    int MaxInEvent = int.MaxValue) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.Add(Id);
        keys.Capacities.UnionWith(ParentIds);
        keys.CapacityCreations.Add(TenantId);
        if (Sale?.OpensAfter is { } earlier)
        {
            keys.Capacities.Add(earlier);
        }

        if (MaxInEvent < int.MaxValue)
        {
            keys.EventSizes.Add((TenantId, EventId));
        }
    }
}

public sealed record UpdateCapacity(
    Guid TenantId,
    Guid Id,
    Change<string> SectionName,
    Change<string?> SectionCode,
    Change<int?> Total,
    Change<bool> IsActive,
    WaitlistPatch? Waitlist = null,
    SalePatch? Sale = null) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.Add(Id);
        if (Sale?.OpensAfter is { IsSet: true, Value: { } earlier })
        {
            keys.Capacities.Add(earlier);
        }

        // A window it ends (or a due end it passes) lapses the entries below that reach it, owed
        // nothing or not: the event's queue must be at hand. Rare (an organiser's PUT of the rules).
        if (Sale is not null)
        {
            keys.Queues.Add(Id);
        }
    }
}

public sealed record CreatePrice(
    Guid TenantId,
    Guid Id,
    Guid CapacityId,
    string Name,
    decimal BasePrice,
    decimal? CurrentPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.Add(CapacityId);
        keys.Prices.Add(Id);
    }
}

public sealed record UpdatePrice(
    Guid TenantId,
    Guid Id,
    Change<string> Name,
    Change<decimal> BasePrice,
    Change<decimal?> CurrentPrice,
    Change<decimal> ServiceFee,
    Change<decimal> FacilityFee,
    Change<decimal> TaxRate,
    Change<string> Currency) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Prices.Add(Id);
}

/// <summary>One item of a hold: a quantity of a capacity, optionally at a price and drawn from an allocation.</summary>
public readonly record struct HoldItem(Guid CapacityId, int Quantity, Guid? PricingId, Guid? AllocationId = null) : IDemand;

/// <summary>
/// A quantity drawn from a capacity: what the core sums per node, whether it comes from a command's
/// items or a stored hold's. The core's generic methods take it as a type argument, so each item
/// type gets its own compiled code and nothing is boxed.
/// </summary>
public interface IDemand
{
    Guid CapacityId { get; }
    int Quantity { get; }

    /// <summary>The allocation the quantity is drawn from, or null for the public pool.</summary>
    Guid? AllocationId { get; }
}

/// <summary>
/// Places a hold; <paramref name="BuyerKey"/> names the buyer for per-buyer limits, <paramref name="Labels"/>
/// carries the platform's own reference and metadata.
/// </summary>
public sealed record PlaceHold(Guid TenantId, Guid ReservationId, HoldItem[] Items, int Minutes, string? BuyerKey = null, ReservationLabels? Labels = null) : Command
{
    protected override bool MayFreeUnits => false;

    protected override void AddKeys(LoadKeys keys)
    {
        // The id is looked up too, so that a reused id is refused by the core, not by a key conflict
        // that would fail the whole batch.
        keys.NewReservations.Add(ReservationId);
        foreach (var item in Items)
        {
            keys.Capacities.Add(item.CapacityId);
            if (item.PricingId is { } p)
            {
                keys.Prices.Add(p);
            }

            if (item.AllocationId is { } a)
            {
                keys.Allocations.Add(a);
            }

            // An invalid key is refused by the decider; it must never reach the store's usage lookup,
            // where a NUL character would fail the whole batch instead of this one command.
            if (Rules.IsValidBuyerKey(BuyerKey))
            {
                keys.Buyers.Add((item.CapacityId, BuyerKey!));
            }
        }
    }
}

public enum Transition
{
    Confirm,
    Release,
    Cancel,
}

public sealed record TransitionReservation(Guid TenantId, Guid ReservationId, Transition Transition) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Reservations.Add(ReservationId);
}

public sealed record ExtendReservation(Guid TenantId, Guid ReservationId, int Minutes) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Reservations.Add(ReservationId);
}

/// <summary>The sweeper's command: expire those of these holds that are still active and due.</summary>
public sealed record ExpireDue(Guid[] ReservationIds) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.ExpiryCandidates.UnionWith(ReservationIds);
}

/// <summary>
/// A key to issue, as the caller made it: its id, the SHA-256 of its text (the only form kept), the
/// first characters of the text that a list shows, an optional name, what it may do, and when it stops
/// working (null: never, until revoked).
/// </summary>
public sealed record NewApiKey(Guid Id, byte[] KeyHash, string Prefix, string? Name = null, KeyScope Scope = KeyScope.Write, DateTimeOffset? ExpiresAt = null);

/// <summary>Creates a tenant with its first key.</summary>
public sealed record CreateTenant(Guid Id, string Name, NewApiKey Key) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
    }
}

/// <summary>Issues another key for a tenant (rotation, or a key of another scope); the others keep working.</summary>
public sealed record AddApiKey(Guid TenantId, NewApiKey Key, int MaxUsable = int.MaxValue) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Tenants.Add(TenantId);
        if (MaxUsable < int.MaxValue)
        {
            keys.TenantKeys.Add(TenantId);
        }
    }
}

/// <summary>
/// The sweep's: these capacities' sale windows have an edge at or before now that no sweep has passed.
/// Each is passed once: subscribers are told of the change of state, and entries that waited for the
/// window are offered in the same batch.
/// </summary>
public sealed record PassSaleEdges(Guid[] CapacityIds) : Command
{
    // The queues too: a window's end lapses the entries below that reach it, including those owed
    // nothing (their own capacity full), which no counter of the capacity shows. One batch per edge.
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.UnionWith(CapacityIds);
        keys.Queues.UnionWith(CapacityIds);
    }
}

/// <summary>Revokes one of a tenant's keys: it is refused from then on. Revoking a revoked key changes nothing.</summary>
public sealed record RevokeApiKey(Guid TenantId, Guid KeyId) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Tenants.Add(TenantId);
        keys.ApiKeys.Add(KeyId);
    }
}

/// <summary>Disables a tenant (every credential of it is refused, nothing of it is deleted) or enables it again.</summary>
public sealed record SetTenantDisabled(Guid TenantId, bool Disabled) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Tenants.Add(TenantId);
}

/// <summary>When a key was last seen authenticating a request, as one node observed it.</summary>
public readonly record struct KeyUse(Guid KeyId, DateTimeOffset At);

/// <summary>
/// A node's record of which keys it saw in use and when, sent about once a minute rather than once
/// per request. A key's <c>last_used_at</c> only moves forward, so nodes reporting out of order, or
/// the same use twice, change nothing.
/// </summary>
public sealed record RecordKeyUse(KeyUse[] Uses) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        foreach (var use in Uses)
        {
            keys.ApiKeys.Add(use.KeyId);
        }
    }
}

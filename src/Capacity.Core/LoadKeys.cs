namespace Capacity.Core;

/// <summary>
/// The read set of a batch: the rows, by id, that its commands decide on. Each command adds its own
/// (<see cref="Command.CollectKeys"/>); the engine has them loaded into the working set before the
/// core decides. A capacity is needed with all its ancestors, since a hold charges them too.
/// </summary>
public sealed class LoadKeys
{
    public HashSet<Guid> Capacities { get; } = [];
    public HashSet<Guid> Reservations { get; } = [];

    /// <summary>
    /// Ids that commands are about to create. The core only needs to see those that already exist,
    /// so that it can refuse the reuse; an id that is not loaded is taken to be free.
    /// </summary>
    public HashSet<Guid> NewReservations { get; } = [];
    public HashSet<Guid> Prices { get; } = [];
    public HashSet<Guid> Tenants { get; } = [];

    /// <summary>
    /// Allocations by id. The store also loads every allocation that a loaded hold's items draw from,
    /// and the capacities (with ancestors) of every allocation it loads: ending a hold from an
    /// allocation moves the allocation's counters, and giving units back charges its nodes.
    /// </summary>
    public HashSet<Guid> Allocations { get; } = [];

    /// <summary>
    /// Holds the sweeper believes are due. The core expires those that are loaded and still due, and
    /// passes over any that are not loaded: such a hold stays due for a later <see cref="ExpireDue"/>.
    /// </summary>
    public HashSet<Guid> ExpiryCandidates { get; } = [];

    public void Clear()
    {
        Capacities.Clear();
        Reservations.Clear();
        NewReservations.Clear();
        Prices.Clear();
        Tenants.Clear();
        Allocations.Clear();
        ExpiryCandidates.Clear();
    }
}

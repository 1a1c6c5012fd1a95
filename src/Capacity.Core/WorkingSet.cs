namespace Capacity.Core;

/// <summary>Finds capacities by id; the working set and read snapshots both answer it.</summary>
public interface ICapacityLookup
{
    CapacityNode? FindCapacity(Guid id);
}

/// <summary>
/// The rows one batch has loaded, and what the core changed in them. The engine fills it from the
/// store, the core decides against it in arrival order, and the store writes back exactly what is
/// marked here. Nothing in it does IO.
/// </summary>
public sealed class WorkingSet : ICapacityLookup
{
    private readonly Dictionary<Guid, CapacityNode> _capacities = [];
    private readonly Dictionary<Guid, Reservation> _reservations = [];
    private readonly Dictionary<Guid, PriceEntry> _prices = [];

    private readonly HashSet<Guid> _newCapacities = [];
    private readonly HashSet<Guid> _changedCapacities = [];
    private readonly HashSet<Guid> _newReservations = [];
    private readonly HashSet<Guid> _changedReservations = [];
    private readonly HashSet<Guid> _newPrices = [];
    private readonly HashSet<Guid> _changedPrices = [];
    private readonly List<LedgerEntry> _ledger = [];
    private readonly Dictionary<Guid, Tenant> _tenants = [];
    private readonly List<Tenant> _newTenants = [];
    private readonly List<ApiKey> _newKeys = [];

    // Scratch space for the decide path, reused so that a hold allocates nothing it does not keep.
    internal readonly Dictionary<Guid, long> Demand = [];
    internal readonly List<CapacityNode> Closure = [];

    public int CapacityCount => _capacities.Count;

    public CapacityNode? FindCapacity(Guid id) => _capacities.GetValueOrDefault(id);
    public Reservation? FindReservation(Guid id) => _reservations.GetValueOrDefault(id);
    public PriceEntry? FindPrice(Guid id) => _prices.GetValueOrDefault(id);

    public Tenant? FindTenant(Guid id) => _tenants.GetValueOrDefault(id);

    public bool HasCapacity(Guid id) => _capacities.ContainsKey(id);

    // Loading: rows as the store has them. Loading never marks anything changed.
    public void Load(CapacityNode node) => _capacities.TryAdd(node.Id, node);
    public void Load(Reservation reservation) => _reservations.TryAdd(reservation.Id, reservation);
    public void Load(PriceEntry price) => _prices.TryAdd(price.Id, price);
    public void Load(Tenant tenant) => _tenants.TryAdd(tenant.Id, tenant);

    // Changes, recorded by the core.
    internal void AddNew(CapacityNode node)
    {
        _capacities.Add(node.Id, node);
        _newCapacities.Add(node.Id);
    }

    internal void Touch(CapacityNode node)
    {
        if (!_newCapacities.Contains(node.Id))
        {
            _changedCapacities.Add(node.Id);
        }
    }

    internal void AddNew(Reservation reservation)
    {
        _reservations.Add(reservation.Id, reservation);
        _newReservations.Add(reservation.Id);
    }

    internal void Replace(Reservation reservation)
    {
        _reservations[reservation.Id] = reservation;
        if (!_newReservations.Contains(reservation.Id))
        {
            _changedReservations.Add(reservation.Id);
        }
    }

    internal void AddNew(PriceEntry price)
    {
        _prices.Add(price.Id, price);
        _newPrices.Add(price.Id);
    }

    internal void Replace(PriceEntry price)
    {
        _prices[price.Id] = price;
        if (!_newPrices.Contains(price.Id))
        {
            _changedPrices.Add(price.Id);
        }
    }

    internal void Append(in LedgerEntry entry) => _ledger.Add(entry);

    internal void AddNew(Tenant tenant)
    {
        _tenants.Add(tenant.Id, tenant);
        _newTenants.Add(tenant);
    }

    internal void AddNew(ApiKey key) => _newKeys.Add(key);

    public IEnumerable<CapacityNode> NewCapacities => _newCapacities.Select(id => _capacities[id]);
    public IEnumerable<CapacityNode> ChangedCapacities => _changedCapacities.Select(id => _capacities[id]);
    public IEnumerable<Reservation> NewReservations => _newReservations.Select(id => _reservations[id]);
    public IEnumerable<Reservation> ChangedReservations => _changedReservations.Select(id => _reservations[id]);
    public IEnumerable<PriceEntry> NewPrices => _newPrices.Select(id => _prices[id]);
    public IEnumerable<PriceEntry> ChangedPrices => _changedPrices.Select(id => _prices[id]);
    public IReadOnlyList<LedgerEntry> Ledger => _ledger;
    public IReadOnlyList<Tenant> NewTenants => _newTenants;
    public IReadOnlyList<ApiKey> NewKeys => _newKeys;

    public bool HasChanges =>
        _newCapacities.Count + _changedCapacities.Count + _newReservations.Count + _changedReservations.Count
        + _newPrices.Count + _changedPrices.Count + _ledger.Count + _newTenants.Count + _newKeys.Count > 0;

    /// <summary>Forgets the change marks once the store has written them; the rows stay loaded.</summary>
    public void AcceptChanges()
    {
        _newCapacities.Clear();
        _changedCapacities.Clear();
        _newReservations.Clear();
        _changedReservations.Clear();
        _newPrices.Clear();
        _changedPrices.Clear();
        _ledger.Clear();
        _newTenants.Clear();
        _newKeys.Clear();
    }

    /// <summary>Forgets everything, rows included, so the instance can serve the next batch.</summary>
    public void Clear()
    {
        AcceptChanges();
        _capacities.Clear();
        _reservations.Clear();
        _prices.Clear();
        _tenants.Clear();
    }
}

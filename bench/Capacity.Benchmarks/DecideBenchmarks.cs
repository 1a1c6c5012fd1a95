using BenchmarkDotNet.Attributes;
using Capacity.Core;

namespace Capacity.Benchmarks;

/// <summary>
/// The core's decide path on one hot event: a limited pool with a capped child and a shared child,
/// single-ticket commands alternating between the two children. Each invocation is one engine
/// batch: the working set is cleared, the three nodes (and, for confirm and release, the batch's
/// active holds) are loaded as the store would load them, and <see cref="Batch"/> commands are
/// decided in order. Figures are per decision; clearing and loading are included, but they are a
/// few nanoseconds per decision and allocate nothing (the rows are made once, in setup).
/// </summary>
[MemoryDiagnoser]
public class DecideBenchmarks
{
    /// <summary>The engine's default batch limit.</summary>
    private const int Batch = 1000;

    private static readonly Guid Tenant = Guid.Parse("0197a000-0000-7000-8000-00000000000a");
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    private readonly WorkingSet _ws = new();
    private readonly CapacityNode _pool = Node(Guid.CreateVersion7(), []);
    private readonly CapacityNode _capped;
    private readonly CapacityNode _shared;
    private readonly PlaceHold[] _holds = new PlaceHold[Batch];
    private readonly Reservation[] _active = new Reservation[Batch];
    private readonly TransitionReservation[] _confirms = new TransitionReservation[Batch];
    private readonly TransitionReservation[] _releases = new TransitionReservation[Batch];

    public DecideBenchmarks()
    {
        _capped = Node(Guid.CreateVersion7(), [_pool.Id]);
        _shared = Node(Guid.CreateVersion7(), [_pool.Id]);
        for (var i = 0; i < Batch; i++)
        {
            var id = Guid.CreateVersion7();
            var child = i % 2 == 0 ? _capped.Id : _shared.Id;
            _holds[i] = new PlaceHold(Tenant, id, [new HoldItem(child, 1, null)], 15);
            _active[i] = new Reservation(id, Tenant, ReservationStatus.Active, [new ReservationItem(child, 1, null)], Now, Now.AddMinutes(15), null, null);
            _confirms[i] = new TransitionReservation(Tenant, id, Transition.Confirm);
            _releases[i] = new TransitionReservation(Tenant, id, Transition.Release);
        }
    }

    /// <summary>A single-ticket hold that succeeds: the on-sale path.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Hold()
    {
        Open(poolTotal: int.MaxValue, withHolds: false);
        return Run(_holds);
    }

    /// <summary>A single-ticket hold refused because the pool is empty: the sold-out path.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Hold_refused_sold_out()
    {
        Open(poolTotal: 0, withHolds: false);
        return Run(_holds);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Confirm()
    {
        Open(poolTotal: int.MaxValue, withHolds: true);
        return Run(_confirms);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Release()
    {
        Open(poolTotal: int.MaxValue, withHolds: true);
        return Run(_releases);
    }

    private int Run(Command[] commands)
    {
        var ok = 0;
        foreach (var c in commands)
        {
            if (Decider.Decide(_ws, c, Now, CoreLimits.Default).Code == OutcomeCode.Ok)
            {
                ok++;
            }
        }

        return ok;
    }

    /// <summary>A fresh batch: the nodes with their counters as stored, and the batch's holds when it acts on them.</summary>
    private void Open(int poolTotal, bool withHolds)
    {
        _ws.Clear();
        var held = withHolds ? Batch : 0;
        _pool.Total = poolTotal;
        _capped.Total = poolTotal;
        (_pool.Reserved, _capped.Reserved, _shared.Reserved) = (held, held / 2, held / 2);
        (_pool.Sold, _capped.Sold, _shared.Sold) = (0, 0, 0);
        _ws.Load(_pool);
        _ws.Load(_capped);
        _ws.Load(_shared);
        if (withHolds)
        {
            foreach (var r in _active)
            {
                _ws.Load(r);
            }
        }
    }

    private static CapacityNode Node(Guid id, Guid[] parents) => new()
    {
        Id = id,
        TenantId = Tenant,
        EventId = "bench-event",
        SectionName = "Section",
        ParentIds = parents,
        CreatedAt = Now,
        UpdatedAt = Now,
    };
}

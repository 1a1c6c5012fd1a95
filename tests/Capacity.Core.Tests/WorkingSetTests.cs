namespace Capacity.Core.Tests;

/// <summary>
/// The working set's bookkeeping, which the decide path keeps cheap (epochs instead of hash lookups,
/// shared items arrays, answers as values): what it records must stay exactly what the store has to
/// write, and deciding must allocate nothing.
/// </summary>
public sealed class WorkingSetTests
{
    private static readonly Guid Tenant = Scenario.TenantA;
    private static readonly DateTimeOffset Now = Scenario.Start;

    [Fact]
    public void Holds_refusals_confirms_and_releases_allocate_nothing_once_the_working_set_is_warm()
    {
        var hot = new HotEvent(holds: 500);

        // The first round sizes the working set's tables and lists and runs every path once.
        hot.Run(poolTotal: int.MaxValue);
        var allocated = hot.Run(poolTotal: int.MaxValue);

        Assert.Equal(new Allocations(0, 0, 0, 0), allocated);
        hot.AssertConsistent();
    }

    [Fact]
    public void A_refusal_keeps_its_numbers_and_writes_its_sentence_from_them()
    {
        var s = new Scenario();
        var pool = s.Create(5, name: "Parkett");
        s.HoldOk((pool, 4));

        var refused = s.Hold((pool, 3));

        Assert.Equal(OutcomeCode.InsufficientCapacity, refused.Code);
        Assert.Equal(("Parkett", 3L, 1L), (refused.Shortage!.Value.SectionName, refused.Shortage.Value.Requested, refused.Shortage.Value.Left));
        Assert.Equal("Not enough capacity in Parkett: 3 requested, 1 left.", refused.Detail);
        Assert.Equal(1, refused.Available);
        s.AssertConsistent();
    }

    [Fact]
    public void Single_item_holds_of_one_shape_share_their_items_and_every_other_hold_gets_its_own()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var other = s.Own(100);
        var price = s.Price(pool, 10m);

        var a = s.Reservation(s.HoldOk((pool, 2))).Items;
        var b = s.Reservation(s.HoldOk((pool, 2))).Items;
        var three = s.Reservation(s.HoldOk((pool, 3))).Items;
        var otherPool = s.Reservation(s.HoldOk((other, 2))).Items;
        var cart = s.Reservation(s.HoldOk((pool, 2), (other, 2))).Items;
        var priced = s.Do(s.HoldCommand(15, new HoldItem(pool, 2, price))).Reservation!.Value.Items;
        var large = s.Reservation(s.HoldOk((pool, 9))).Items;
        var large2 = s.Reservation(s.HoldOk((pool, 9))).Items;

        Assert.Same(a, b);
        Assert.Equal([new ReservationItem(pool, 2, null)], a);
        Assert.NotSame(a, three);
        Assert.Equal([new ReservationItem(pool, 3, null)], three);
        Assert.NotSame(a, otherPool);
        Assert.Equal(2, cart.Length);
        Assert.NotNull(Assert.Single(priced).LockedPrice);
        Assert.NotSame(large, large2);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_placed_and_confirmed_in_one_batch_is_written_once_as_new_in_its_last_state()
    {
        var (ws, capped) = Loaded();
        var id = Guid.CreateVersion7();

        Decide(ws, new PlaceHold(Tenant, id, [new HoldItem(capped.Id, 1, null)], 15));
        Decide(ws, new TransitionReservation(Tenant, id, Transition.Confirm));

        var written = Assert.Single(ws.NewReservations);
        Assert.Equal(ReservationStatus.Confirmed, written.Status);
        Assert.Empty(ws.ChangedReservations);
    }

    [Fact]
    public void A_hold_from_an_accepted_batch_is_written_as_changed_once_however_often_it_changes()
    {
        var (ws, capped) = Loaded();
        var id = Guid.CreateVersion7();
        Decide(ws, new PlaceHold(Tenant, id, [new HoldItem(capped.Id, 1, null)], 15));
        ws.AcceptChanges();

        Decide(ws, new ExtendReservation(Tenant, id, 20));
        Decide(ws, new TransitionReservation(Tenant, id, Transition.Confirm));

        Assert.Empty(ws.NewReservations);
        var written = Assert.Single(ws.ChangedReservations);
        Assert.Equal(ReservationStatus.Confirmed, written.Status);
        Assert.Equal(Now.AddMinutes(20), written.ExpiresAt);
    }

    [Fact]
    public void A_loaded_hold_changed_in_part_has_its_items_written_and_one_that_only_moves_through_its_lifecycle_does_not()
    {
        var (ws, capped) = Loaded();
        var changed = Guid.CreateVersion7();
        var confirmed = Guid.CreateVersion7();
        Decide(ws, new PlaceHold(Tenant, changed, [new HoldItem(capped.Id, 4, null)], 15));
        Decide(ws, new PlaceHold(Tenant, confirmed, [new HoldItem(capped.Id, 2, null)], 15));
        ws.AcceptChanges();

        Decide(ws, new ChangeHold(Tenant, changed, [new HoldItem(capped.Id, 2, null)], null));
        Decide(ws, new ChangeHold(Tenant, changed, [new HoldItem(capped.Id, 3, null)], null));
        Decide(ws, new TransitionReservation(Tenant, confirmed, Transition.Confirm));

        Assert.Equal(2, ws.ChangedReservations.Count());
        var written = Assert.Single(ws.ChangedItems);
        Assert.Equal((changed, 3), (written.Id, Assert.Single(written.Items).Quantity));
        Assert.Equal(1, ws.ChangedItemsCount);

        // The next batch starts with nothing to write; a new hold changed in its own batch is written whole by its insert.
        ws.AcceptChanges();
        Assert.Empty(ws.ChangedItems);
        var fresh = Guid.CreateVersion7();
        Decide(ws, new PlaceHold(Tenant, fresh, [new HoldItem(capped.Id, 1, null)], 15));
        Decide(ws, new ChangeHold(Tenant, fresh, [new HoldItem(capped.Id, 5, null)], null));
        Assert.Equal(5, Assert.Single(ws.NewReservations).Items.Single().Quantity);
        Assert.Empty(ws.ChangedItems);
        Assert.Empty(ws.ChangedReservations);
    }

    [Fact]
    public void A_change_asks_the_store_for_the_buyers_usage_on_every_capacity_it_names_once_the_hold_is_loaded()
    {
        var hold = Guid.CreateVersion7();
        var (stalls, vip) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var keys = new LoadKeys();
        new ChangeHold(Tenant, hold, [new HoldItem(stalls, 2, null), new HoldItem(vip, 1, null)], null).CollectKeys(keys);

        keys.AddChangeKeysOf(Keyed(hold, stalls, "fan"));

        Assert.True(keys.Buyers.SetEquals([(stalls, "fan"), (vip, "fan")]), string.Join(", ", keys.Buyers));
        keys.AddChangeKeysOf(Keyed(Guid.CreateVersion7(), stalls, "other"));
        Assert.Equal(2, keys.Buyers.Count);

        static Reservation Keyed(Guid id, Guid capacityId, string buyerKey) =>
            new(id, Tenant, ReservationStatus.Active, [new ReservationItem(capacityId, 2, null)], Now, Now.AddMinutes(15), null, null, buyerKey);
    }

    [Fact]
    public void A_node_is_recorded_as_changed_once_per_batch_and_again_in_the_next()
    {
        var (ws, capped) = Loaded();

        for (var i = 0; i < 3; i++)
        {
            Decide(ws, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));
        }

        Assert.Equal(2, ws.ChangedCapacities.Count());
        Assert.Equal(6, ws.Ledger.Count);
        ws.AcceptChanges();
        Assert.Empty(ws.ChangedCapacities);

        Decide(ws, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));

        Assert.Equal(2, ws.ChangedCapacities.Count());
        Assert.Contains(ws.ChangedCapacities, n => n.Id == capped.Id);
        Assert.Contains(ws.ChangedCapacities, n => n.Id == capped.ParentIds[0]);
    }

    [Fact]
    public void One_node_object_in_two_working_sets_is_recorded_by_each_exactly_once()
    {
        var (a, capped) = Loaded();
        var pool = a.FindCapacity(capped.ParentIds[0])!;
        var b = new WorkingSet();
        b.Load(pool);
        b.Load(capped);

        // Alternating, so that each working set finds the node last marked by the other.
        Decide(a, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));
        Decide(b, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));
        Decide(a, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));
        Decide(b, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));

        foreach (var ws in new[] { a, b })
        {
            Assert.Equal(2, ws.ChangedCapacities.Count());
            Assert.Single(ws.ChangedCapacities, n => n.Id == capped.Id);
        }
    }

    [Fact]
    public void A_copy_of_a_node_changed_elsewhere_is_recorded_by_the_working_set_it_is_loaded_into()
    {
        var (a, capped) = Loaded();
        Decide(a, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));
        var b = new WorkingSet();
        b.Load(a.FindCapacity(capped.ParentIds[0])!.Clone());
        b.Load(capped.Clone());

        Decide(b, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15));

        Assert.Equal(2, b.ChangedCapacities.Count());
        Assert.Equal(2, b.FindCapacity(capped.Id)!.Reserved);
        Assert.Equal(1, capped.Reserved);
    }

    /// <summary>
    /// Where no limit covers a capacity the store does not read a buyer's usage row
    /// (<see cref="LoadKeys.UsageKeys(WorkingSet)"/>): a keyed hold and a release there record only
    /// their change, on a row marked unread, which may go below 0 and which the store adds to the row it
    /// has. A limit check never reads such a row; if one did, it would decide on a change, not a usage,
    /// so reading it throws.
    /// </summary>
    [Fact]
    public void On_a_capacity_no_limit_covers_an_unread_buyer_row_records_the_batch_s_change_and_refuses_to_be_read()
    {
        var (ws, capped) = Loaded();
        ws.EveryUsageRead = false;
        var held = LoadKeyedHold(ws, capped, 2, "fan");

        Decide(ws, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 3, null)], 15, "fan"));
        Decide(ws, new TransitionReservation(Tenant, held, Transition.Release));
        Decide(ws, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 1, null)], 15, "other"));
        var gone = LoadKeyedHold(ws, capped, 4, "gone");
        Decide(ws, new TransitionReservation(Tenant, gone, Transition.Release));

        var rows = ws.NewUsage.ToDictionary(u => u.BuyerKey);
        Assert.All(rows.Values, u => Assert.True(u.Unread));
        Assert.Equal(1, rows["fan"].Used);
        Assert.Equal(1, rows["other"].Used);
        Assert.Equal(-4, rows["gone"].Used);
        Assert.Empty(ws.ChangedUsage);
        Assert.Throws<InvalidOperationException>(() => ws.UsageOf(capped.Id, "fan"));
    }

    /// <summary>The same batch with every row read (as when it creates a limit): a buyer without a row gets a new, read one, which may not go below 0.</summary>
    [Fact]
    public void With_every_buyer_row_read_a_keyed_hold_creates_a_read_row_and_a_release_without_one_fails()
    {
        var (ws, capped) = Loaded();
        Decide(ws, new PlaceHold(Tenant, Guid.CreateVersion7(), [new HoldItem(capped.Id, 3, null)], 15, "fan"));
        var row = Assert.Single(ws.NewUsage);
        Assert.False(row.Unread);
        Assert.Equal(3, ws.UsageOf(capped.Id, "fan"));

        var held = LoadKeyedHold(ws, capped, 2, "stranger");
        Assert.Throws<InvalidOperationException>(() => Decider.Decide(ws, new TransitionReservation(Tenant, held, Transition.Release), Now, CoreLimits.Default));
    }

    /// <summary>An active keyed hold from an earlier batch, loaded with the counters it holds (on the capped child and its pool).</summary>
    private static Guid LoadKeyedHold(WorkingSet ws, CapacityNode capped, int quantity, string buyerKey)
    {
        var id = Guid.CreateVersion7();
        ws.Load(new Reservation(id, Tenant, ReservationStatus.Active, [new ReservationItem(capped.Id, quantity, null)], Now, Now.AddMinutes(15), null, null, buyerKey));
        capped.Reserved += quantity;
        ws.FindCapacity(capped.ParentIds[0])!.Reserved += quantity;
        return id;
    }

    private static void Decide(WorkingSet ws, Command command)
    {
        var outcome = Decider.Decide(ws, command, Now, CoreLimits.Default);
        Assert.True(outcome.Succeeded, $"{command.GetType().Name} answered {outcome.Code}: {outcome.Detail}");
    }

    /// <summary>A working set holding a pool of 100 and a capped child of 50, as a store would load them.</summary>
    private static (WorkingSet Ws, CapacityNode Capped) Loaded()
    {
        var pool = HotEvent.Node([], 100);
        var capped = HotEvent.Node([pool.Id], 50);
        var ws = new WorkingSet();
        ws.Load(pool);
        ws.Load(capped);
        return (ws, capped);
    }

    private readonly record struct Allocations(long Holds, long Refusals, long Confirms, long Releases);

    /// <summary>
    /// The on-sale shape of the decide benchmark: a pool with a capped and a shared child, single-ticket
    /// holds alternating between the children, each path run as one batch on a reused working set.
    /// </summary>
    private sealed class HotEvent
    {
        private readonly WorkingSet _ws = new();
        private readonly CapacityNode _pool = Node([], 0);
        private readonly CapacityNode _capped;
        private readonly CapacityNode _shared;
        private readonly PlaceHold[] _holds;
        private readonly TransitionReservation[] _confirms;
        private readonly TransitionReservation[] _releases;
        private readonly List<Reservation> _placed = [];

        public HotEvent(int holds)
        {
            _capped = Node([_pool.Id], 0);
            _shared = Node([_pool.Id], null);
            _holds = new PlaceHold[holds];
            _confirms = new TransitionReservation[holds];
            _releases = new TransitionReservation[holds];
            for (var i = 0; i < holds; i++)
            {
                var id = Guid.CreateVersion7();
                _holds[i] = new PlaceHold(Tenant, id, [new HoldItem(i % 2 == 0 ? _capped.Id : _shared.Id, 1, null)], 15);
                _confirms[i] = new TransitionReservation(Tenant, id, Transition.Confirm);
                _releases[i] = new TransitionReservation(Tenant, id, Transition.Release);
            }
        }

        public static CapacityNode Node(Guid[] parents, int? total) => new()
        {
            Id = Guid.CreateVersion7(),
            TenantId = Tenant,
            EventId = "on-sale",
            SectionName = "Section",
            ParentIds = parents,
            Total = total,
            CreatedAt = Now,
            UpdatedAt = Now,
        };

        /// <summary>Runs each path as a batch of its own and returns the bytes each allocated on this thread.</summary>
        public Allocations Run(int poolTotal)
        {
            Open(total: 0, held: 0);
            var refusals = Measure(_holds, OutcomeCode.InsufficientCapacity);

            Open(total: poolTotal, held: 0);
            var holds = Measure(_holds, OutcomeCode.Ok);
            _placed.Clear();
            _placed.AddRange(_ws.NewReservations);

            Open(total: poolTotal, held: _holds.Length);
            var confirms = Measure(_confirms, OutcomeCode.Ok);

            Open(total: poolTotal, held: _holds.Length);
            var releases = Measure(_releases, OutcomeCode.Ok);
            return new Allocations(holds, refusals, confirms, releases);
        }

        public void AssertConsistent()
        {
            // After the releases every hold is back: nothing reserved, nothing sold, the ledger balanced.
            var nodes = new[] { _pool, _capped, _shared };
            var released = _ws.NewReservations.Concat(_ws.ChangedReservations).ToList();
            Assert.Equal(_holds.Length, released.Count);
            Assert.All(released, r => Assert.Equal(ReservationStatus.Released, r.Status));
            Assert.Empty(Invariants.Check(nodes, released));
            Assert.All(nodes, n => Assert.Equal((0L, 0L), (n.Reserved, n.Sold)));
            Assert.All(nodes, n => Assert.Equal(-(long)_holds.Length / (n == _pool ? 1 : 2), _ws.Ledger.Where(e => e.CapacityId == n.Id).Sum(e => e.ReservedDelta)));
        }

        private long Measure(Command[] commands, OutcomeCode expected)
        {
            var wrong = 0;
            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var c in commands)
            {
                if (Decider.Decide(_ws, c, Now, CoreLimits.Default).Code != expected)
                {
                    wrong++;
                }
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, wrong);
            return allocated;
        }

        /// <summary>A fresh batch: the nodes with their counters as stored, and the placed holds when there are any.</summary>
        private void Open(int total, int held)
        {
            _ws.Clear();
            _pool.Total = total;
            _capped.Total = total;
            (_pool.Reserved, _capped.Reserved, _shared.Reserved) = (held, held / 2, held / 2);
            (_pool.Sold, _capped.Sold, _shared.Sold) = (0, 0, 0);
            _ws.Load(_pool);
            _ws.Load(_capped);
            _ws.Load(_shared);
            if (held > 0)
            {
                foreach (var r in _placed)
                {
                    _ws.Load(r);
                }
            }
        }
    }
}

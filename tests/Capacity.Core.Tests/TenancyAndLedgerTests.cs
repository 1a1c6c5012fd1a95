namespace Capacity.Core.Tests;

/// <summary>Tenant isolation, the ledger, and the invariant checks themselves.</summary>
public sealed class TenancyAndLedgerTests
{
    [Fact]
    public void Holding_another_tenants_capacity_is_NotFound_exactly_like_a_missing_one()
    {
        var s = new Scenario();
        var theirs = s.Create(10, tenant: Scenario.TenantB);
        var mine = s.Own(10);
        var before = s.Snapshot();

        var foreign = s.Hold((mine, 1), (theirs, 1));
        var missing = s.Hold((mine, 1), (s.NewId(), 1));

        Assert.Equal(OutcomeCode.NotFound, foreign.Code);
        Assert.Equal((missing.Code, missing.Field, missing.Available), (foreign.Code, foreign.Field, foreign.Available));
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void Another_tenants_reservation_answers_NotFound_to_every_command_and_stays_as_it_is()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var id = s.HoldOkFor(5, (pool, 2));
        var confirmed = s.HoldOkFor(5, (pool, 1));
        s.Confirm(confirmed);
        // Even a due hold is not expired by another tenant touching it: they cannot see it.
        s.AdvanceMinutes(10);
        var before = s.Snapshot();

        foreach (var transition in Enum.GetValues<Transition>())
        {
            Assert.Equal(OutcomeCode.NotFound, s.Do(new TransitionReservation(Scenario.TenantB, id, transition)).Code);
            Assert.Equal(OutcomeCode.NotFound, s.Do(new TransitionReservation(Scenario.TenantB, confirmed, transition)).Code);
        }

        Assert.Equal(OutcomeCode.NotFound, s.Extend(id, 5, Scenario.TenantB).Code);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(ReservationStatus.Active, s.Reservation(id).Status);

        // The owner still sees it, and it expires on first touch.
        Assert.Equal(OutcomeCode.ReservationExpired, s.Confirm(id).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Prices_on_another_tenants_capacity_are_NotFound()
    {
        var s = new Scenario();
        var theirs = s.Create(10, tenant: Scenario.TenantB);

        var priceId = s.NewId();

        var outcome = s.Do(new CreatePrice(Scenario.TenantA, priceId, theirs, "X", 1m, null, 0m, 0m, 0m, "EUR"));

        Assert.Equal(OutcomeCode.NotFound, outcome.Code);
        Assert.Null(s.Ws.FindPrice(priceId));
        s.AssertConsistent();
    }

    [Fact]
    public void Tenants_with_equal_event_ids_do_not_share_capacity()
    {
        var s = new Scenario();
        var a = s.Own(5);
        var b = s.Create(5, tenant: Scenario.TenantB);
        s.HoldOk((a, 5));

        s.Tenant = Scenario.TenantB;
        s.HoldOk((b, 5));

        Assert.Equal(0, s.Available(a));
        Assert.Equal(0, s.Available(b));
        Assert.All(s.Ledger, e => Assert.Equal(s.Node(e.CapacityId).TenantId, e.TenantId));
        s.AssertConsistent();
    }

    [Fact]
    public void Each_ledger_entry_is_one_change_to_one_node_with_the_right_kind_and_sign()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var left = s.Capped(50, venue);
        var right = s.Capped(50, venue);
        var weekend = s.Shared(left, right);
        var id = s.HoldOk((weekend, 2), (left, 3));

        Assert.Equal(4, s.LastLedger.Count);
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Hold, id, Scenario.TenantA, "evt-1", 0L), (e.Kind, e.ReservationId, e.TenantId, e.EventId, e.SoldDelta)));
        var held = s.LastLedger.ToDictionary(e => e.CapacityId, e => e.ReservedDelta);
        Assert.Equal(5, held[venue]);
        Assert.Equal(5, held[left]);
        Assert.Equal(2, held[right]);
        Assert.Equal(2, held[weekend]);
        Assert.All(s.LastLedger, e => Assert.Equal(s.Now, e.At));

        s.AdvanceMinutes(1);
        s.Confirm(id);
        Assert.Equal(4, s.LastLedger.Count);
        Assert.All(s.LastLedger, e => Assert.Equal(LedgerKind.Confirm, e.Kind));
        Assert.All(s.LastLedger, e => Assert.Equal(held[e.CapacityId], e.SoldDelta));
        Assert.All(s.LastLedger, e => Assert.Equal(-held[e.CapacityId], e.ReservedDelta));

        s.Cancel(id);
        Assert.All(s.LastLedger, e => Assert.Equal((LedgerKind.Cancel, 0L, -held[e.CapacityId]), (e.Kind, e.ReservedDelta, e.SoldDelta)));
        s.AssertConsistent();
    }

    [Fact]
    public void Commands_that_change_no_counter_write_no_ledger()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, 10m);
        var id = s.HoldOk((pool, 1));
        var count = s.Ledger.Count;

        s.Extend(id, 30);
        s.Resize(pool, 20);
        s.SetActive(pool, false);
        s.SetActive(pool, true);
        s.SetCurrentPrice(price, 5m);
        s.Hold((pool, 50));
        s.Cancel(id);

        Assert.Equal(count, s.Ledger.Count);
        s.AssertConsistent();
    }

    [Fact]
    public void Ledger_sums_match_the_counters_after_a_busy_day_on_a_diamond()
    {
        var s = new Scenario();
        var venue = s.Own(40);
        var saturday = s.Capped(25, venue);
        var sunday = s.Capped(25, venue);
        var weekend = s.Shared(saturday, sunday);
        var nodes = new[] { venue, saturday, sunday, weekend };
        var holds = new List<Guid>();
        for (var i = 0; i < 40; i++)
        {
            var outcome = s.HoldFor(5 + (i % 7), (nodes[i % 4], 1 + (i % 3)));
            if (outcome.Code == OutcomeCode.Ok)
            {
                holds.Add(outcome.Reservation!.Value.Id);
            }

            s.AdvanceMinutes(1);
            var target = holds[(i * 7) % holds.Count];
            _ = (i % 5) switch
            {
                0 => s.Confirm(target),
                1 => s.Release(target),
                2 => s.Cancel(target),
                3 => s.ExpireDue([.. holds]),
                _ => s.Extend(target, 10),
            };
            s.AssertConsistent();
        }

        Assert.Contains(s.Ledger, e => e.Kind == LedgerKind.Hold);
        Assert.Contains(s.Ledger, e => e.Kind == LedgerKind.Confirm);
        Assert.Contains(s.Ledger, e => e.Kind == LedgerKind.Expire);
    }

    [Fact]
    public void Loaded_rows_with_counters_are_decided_against_like_created_ones()
    {
        // The engine loads rows from the store; the core continues from their counters.
        var s = new Scenario();
        var pool = new CapacityNode
        {
            Id = s.NewId(),
            TenantId = Scenario.TenantA,
            EventId = "evt-1",
            SectionName = "Pool",
            Total = 10,
            ParentIds = [],
            Reserved = 3,
            Sold = 4,
            CreatedAt = s.Now,
            UpdatedAt = s.Now,
        };
        var hold = new Reservation(s.NewId(), Scenario.TenantA, ReservationStatus.Active, [new ReservationItem(pool.Id, 3, null)], s.Now, s.Now.AddMinutes(15), null, null);
        var sale = new Reservation(s.NewId(), Scenario.TenantA, ReservationStatus.Confirmed, [new ReservationItem(pool.Id, 4, null)], s.Now, s.Now.AddMinutes(15), s.Now, null);
        s.Load(pool);
        s.Load(hold);
        s.Load(sale);
        s.AssertConsistent();

        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool.Id, 4)).Code);
        s.HoldOk((pool.Id, 3));
        Assert.Equal(OutcomeCode.Ok, s.Release(hold.Id).Code);
        Assert.Equal(OutcomeCode.Ok, s.Cancel(sale.Id).Code);
        Assert.Equal(7, s.Available(pool.Id));
        Assert.Empty(s.Ws.NewCapacities);
        s.AssertConsistent();
    }

    [Fact]
    public void Invariants_report_counters_that_disagree_with_the_holds()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var child = s.Shared(pool);
        s.HoldOk((child, 2));
        s.AssertConsistent();

        s.Node(pool).Reserved = 1;
        var violations = Invariants.Check(s.Nodes, s.Reservations);

        var line = Assert.Single(violations);
        Assert.Contains(pool.ToString(), line, StringComparison.Ordinal);
    }

    [Fact]
    public void Invariants_report_negative_counters_and_ledger_mismatches()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        s.Node(pool).Sold = -1;

        Assert.Contains(Invariants.Check(s.Nodes, s.Reservations), v => v.Contains("negative", StringComparison.Ordinal));
        Assert.Single(Invariants.CheckLedger(s.Nodes, new Dictionary<Guid, (long, long)>()));
    }
}

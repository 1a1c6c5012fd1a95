namespace Capacity.Core.Tests;

/// <summary>Capacities: derived modes, the graph rules, resizing and deactivation.</summary>
public sealed class CapacityTests
{
    public static TheoryData<bool, bool, CapacityMode> ModeCases => new()
    {
        { true, false, CapacityMode.Own },
        { true, true, CapacityMode.Capped },
        { false, true, CapacityMode.Shared },
        { false, false, CapacityMode.Unlimited },
    };

    [Theory]
    [MemberData(nameof(ModeCases))]
    public void Mode_is_derived_from_the_limit_and_the_parents(bool limited, bool withParent, CapacityMode expected)
    {
        var s = new Scenario();
        var root = s.Own(100);

        var outcome = s.Do(s.CreateCommand(limited ? 10 : null, withParent ? [root] : []));

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(expected, outcome.Capacity!.Value.Mode);
        Assert.Equal(expected, s.Node(outcome.Capacity!.Value.Id).Mode);
        s.AssertConsistent();
    }

    [Theory]
    [MemberData(nameof(ModeCases))]
    public void A_mode_sent_on_create_must_agree_with_the_fields(bool limited, bool withParent, CapacityMode derived)
    {
        foreach (var asked in Enum.GetValues<CapacityMode>())
        {
            var s = new Scenario();
            var root = s.Own(100);
            var before = s.Snapshot();

            var outcome = s.Do(s.CreateCommand(limited ? 10 : null, withParent ? [root] : [], mode: asked));

            if (asked == derived)
            {
                Assert.Equal(OutcomeCode.Ok, outcome.Code);
                Assert.Equal(derived, outcome.Capacity!.Value.Mode);
            }
            else
            {
                Assert.Equal(OutcomeCode.Invalid, outcome.Code);
                Assert.Equal("mode", outcome.Field);
                Assert.Equal(before, s.Snapshot());
            }

            s.AssertConsistent();
        }
    }

    [Fact]
    public void A_name_stored_under_an_older_rule_does_not_block_a_change_of_something_else_but_cannot_be_set_anew()
    {
        var s = new Scenario();
        var pool = s.Own(10, "Pool");

        // A name with a soft hyphen, taken before format characters were refused, as a store would load it.
        var old = s.Node(pool);
        var stored = new CapacityNode
        {
            Id = Guid.NewGuid(), TenantId = old.TenantId, EventId = old.EventId, SectionName = "Bal\u00ADcony", ParentIds = [], Total = 10,
            IsActive = true, CreatedAt = old.CreatedAt, UpdatedAt = old.UpdatedAt,
        };
        s.Ws.Load(stored);

        Assert.Equal(OutcomeCode.Ok, s.Resize(stored.Id, 20).Code);
        Assert.Equal(OutcomeCode.Ok, s.SetActive(stored.Id, false).Code);
        Assert.Equal((20, false, "Bal\u00ADcony"), (s.Node(stored.Id).Total, s.Node(stored.Id).IsActive, s.Node(stored.Id).SectionName));

        var renamed = s.Do(new UpdateCapacity(s.Tenant, pool, Change<string>.To("Stalls\u00AD"), Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep));
        Assert.Equal((OutcomeCode.Invalid, "section_name"), (renamed.Code, renamed.Field));
    }

    [Fact]
    public void A_bounded_create_counts_the_events_capacities_as_loaded_and_those_created_since_and_refuses_the_one_past_the_bound()
    {
        var s = new Scenario();
        s.Ws.LoadEventSize(s.Tenant, s.EventId, 2);

        Assert.Equal(OutcomeCode.Ok, s.Do(s.CreateCommand(10) with { MaxInEvent = 4 }).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(s.CreateCommand(10) with { MaxInEvent = 4 }).Code);
        var before = s.Snapshot();
        var refused = s.Do(s.CreateCommand(10) with { MaxInEvent = 4 });

        Assert.Equal(OutcomeCode.TooManyCapacities, refused.Code);
        Assert.Equal(4, refused.Count);
        Assert.Equal($"Event {s.EventId} has 4 capacities, the most one event may have.", refused.Detail);
        Assert.Equal(before, s.Snapshot());

        // A wider bound on the same count still admits; an unbounded create needs no count at all.
        Assert.Equal(OutcomeCode.Ok, s.Do(s.CreateCommand(10) with { MaxInEvent = 5 }).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(s.CreateCommand(10)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void A_bounded_create_whose_events_count_was_not_loaded_is_a_store_bug_not_a_pass()
    {
        var s = new Scenario();
        var command = s.CreateCommand(10) with { MaxInEvent = 4 };

        Assert.Throws<MissingRowException>(() => s.Do(command));

        var keys = new LoadKeys();
        command.CollectKeys(keys);
        Assert.Equal([(s.Tenant, s.EventId)], keys.EventSizes);
    }

    [Fact]
    public void Created_capacity_starts_empty_with_its_total_available()
    {
        var s = new Scenario();
        var outcome = s.Do(s.CreateCommand(42, name: "Stalls"));

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        var view = outcome.Capacity!.Value;
        Assert.Equal(42, view.Total);
        Assert.Equal(42, view.Available);
        Assert.Equal(0, view.Reserved);
        Assert.Equal(0, view.Sold);
        Assert.True(view.IsActive);
        Assert.Equal("Stalls", view.SectionName);
        Assert.Equal(s.Now, view.CreatedAt);
        Assert.Empty(s.LastLedger);
        s.AssertConsistent();
    }

    [Fact]
    public void A_parent_that_does_not_exist_is_Invalid_on_its_index_and_changes_nothing()
    {
        var s = new Scenario();
        var root = s.Own(10);
        var before = s.Snapshot();

        var outcome = s.Do(s.CreateCommand(5, [root, s.NewId()]));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("parent_ids[1]", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_parent_of_another_tenant_is_Invalid_exactly_like_a_missing_one()
    {
        var s = new Scenario();
        var mine = s.Own(10);
        var theirs = s.Create(10, tenant: Scenario.TenantB);
        var before = s.Snapshot();

        var foreign = s.Do(s.CreateCommand(5, [mine, theirs]));
        var missing = s.Do(s.CreateCommand(5, [mine, s.NewId()]));

        Assert.Equal(OutcomeCode.Invalid, foreign.Code);
        Assert.Equal(missing.Code, foreign.Code);
        Assert.Equal(missing.Field, foreign.Field);
        Assert.Equal("parent_ids[1]", foreign.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_parent_named_twice_is_Invalid()
    {
        var s = new Scenario();
        var root = s.Own(10);
        var other = s.Own(10);
        var before = s.Snapshot();

        var outcome = s.Do(s.CreateCommand(5, [root, other, root]));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("parent_ids[2]", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void More_than_16_parents_is_Invalid()
    {
        var s = new Scenario();
        var parents = Enumerable.Range(0, 17).Select(_ => s.Own(10)).ToArray();

        Assert.Equal(OutcomeCode.Invalid, s.Do(s.CreateCommand(null, parents)).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(s.CreateCommand(null, parents[..16])).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Eight_levels_are_allowed_and_a_ninth_is_Invalid()
    {
        var s = new Scenario();
        var chain = new List<Guid> { s.Own(1000, "level 1") };
        for (var level = 2; level <= 8; level++)
        {
            chain.Add(s.Create(1000 - level, [chain[^1]], $"level {level}"));
        }

        Assert.Equal(8, Graph.Depth(s.Node(chain[^1]), s.Ws));
        var before = s.Snapshot();
        var ninth = s.Do(s.CreateCommand(10, [chain[^1]]));
        Assert.Equal(OutcomeCode.Invalid, ninth.Code);
        Assert.Equal("parent_ids", ninth.Field);
        Assert.Equal(before, s.Snapshot());

        // The deepest level still takes holds and charges all eight nodes.
        s.HoldOk((chain[^1], 3));
        Assert.All(chain, id => Assert.Equal(3, s.Node(id).Reserved));
        Assert.Equal(8, s.LastLedger.Count);
        s.AssertConsistent();
    }

    [Fact]
    public void Depth_counts_the_longest_path_through_any_parent()
    {
        var s = new Scenario();
        var root = s.Own(1000);
        var deep = root;
        for (var level = 2; level <= 8; level++)
        {
            deep = s.Shared(deep);
        }

        // A node with a shallow parent and an eight-level parent is on level nine.
        var outcome = s.Do(s.CreateCommand(null, [root, deep]));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("parent_ids", outcome.Field);
        s.AssertConsistent();
    }

    [Fact]
    public void Depth_limit_follows_the_configured_MaxDepth()
    {
        var s = new Scenario { Limits = CoreLimits.Default with { MaxDepth = 2 } };
        var root = s.Own(10);
        var child = s.Capped(5, root);

        Assert.Equal(OutcomeCode.Invalid, s.Do(s.CreateCommand(null, [child])).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Creating_an_id_that_already_exists_is_Invalid()
    {
        var s = new Scenario();
        var command = s.CreateCommand(10);
        Assert.Equal(OutcomeCode.Ok, s.Do(command).Code);
        s.HoldOk((command.Id, 4));

        var again = s.Do(command with { Total = 99 });

        Assert.Equal(OutcomeCode.Invalid, again.Code);
        Assert.Equal("id", again.Field);
        Assert.Equal(10, s.Node(command.Id).Total);
        Assert.Equal(4, s.Node(command.Id).Reserved);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public void A_total_out_of_range_is_Invalid(int total)
    {
        var s = new Scenario();
        var outcome = s.Do(s.CreateCommand(total));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("total_capacity", outcome.Field);
        Assert.Equal(0, s.Ws.CapacityCount);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("é")]
    public void An_event_id_of_the_wrong_shape_is_Invalid(string eventId)
    {
        var s = new Scenario { EventId = eventId };
        var outcome = s.Do(s.CreateCommand(10));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("event_id", outcome.Field);
        Assert.Equal(0, s.Ws.CapacityCount);
        s.AssertConsistent();
    }

    [Fact]
    public void Resizing_below_reserved_plus_sold_is_BelowCommitted_and_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(20);
        var sold = s.HoldOk((pool, 5));
        s.Confirm(sold);
        s.HoldOk((pool, 4));
        var before = s.Snapshot();

        var outcome = s.Resize(pool, 8);

        Assert.Equal(OutcomeCode.BelowCommitted, outcome.Code);
        Assert.Equal("total_capacity", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        Assert.Equal(20, s.Node(pool).Total);
        s.AssertConsistent();
    }

    [Fact]
    public void Resizing_to_exactly_reserved_plus_sold_is_allowed_and_leaves_nothing_available()
    {
        var s = new Scenario();
        var pool = s.Own(20);
        s.Confirm(s.HoldOk((pool, 5)));
        s.HoldOk((pool, 4));

        var outcome = s.Resize(pool, 9);

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal(0, outcome.Capacity!.Value.Available);
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void Resizing_a_pool_below_what_its_children_hold_is_BelowCommitted()
    {
        var s = new Scenario();
        var pool = s.Own(50);
        var adult = s.Capped(30, pool);
        var child = s.Shared(pool);
        s.HoldOk((adult, 10), (child, 6));

        Assert.Equal(OutcomeCode.BelowCommitted, s.Resize(pool, 15).Code);
        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, 16).Code);
        Assert.Equal(0, s.Available(child));
        Assert.Equal(0, s.Available(adult));
        s.AssertConsistent();
    }

    [Fact]
    public void Growing_a_capacity_makes_room_for_a_hold_that_was_refused()
    {
        var s = new Scenario();
        var pool = s.Own(3);
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 5)).Code);

        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, 5).Code);

        s.HoldOk((pool, 5));
        s.AssertConsistent();
    }

    [Fact]
    public void Making_a_capacity_unlimited_or_limited_changes_its_mode_and_availability()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var child = s.Shared(pool);
        s.HoldOk((child, 4));

        Assert.Equal(OutcomeCode.Ok, s.Resize(pool, null).Code);
        Assert.Equal(CapacityMode.Unlimited, s.Node(pool).Mode);
        Assert.Null(s.Available(child));

        // Its counters kept counting while unlimited, so the limit applies to them at once.
        Assert.Equal(OutcomeCode.BelowCommitted, s.Resize(child, 3).Code);
        Assert.Equal(OutcomeCode.Ok, s.Resize(child, 4).Code);
        Assert.Equal(CapacityMode.Capped, s.Node(child).Mode);
        Assert.Equal(0, s.Available(child));
        s.AssertConsistent();
    }

    [Fact]
    public void Update_of_another_tenants_capacity_is_NotFound_like_a_missing_one()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var before = s.Snapshot();

        var foreign = s.Resize(pool, 50, Scenario.TenantB);
        var missing = s.Resize(s.NewId(), 50);
        var deactivate = s.SetActive(pool, false, Scenario.TenantB);

        Assert.Equal(OutcomeCode.NotFound, foreign.Code);
        Assert.Equal(OutcomeCode.NotFound, missing.Code);
        Assert.Equal(OutcomeCode.NotFound, deactivate.Code);
        Assert.Equal(missing.Field, foreign.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void An_inactive_capacity_refuses_new_holds_with_CapacityInactive()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        Assert.Equal(OutcomeCode.Ok, s.SetActive(pool, false).Code);
        var before = s.Snapshot();

        var outcome = s.Hold((pool, 1));

        Assert.Equal(OutcomeCode.CapacityInactive, outcome.Code);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_capacity_created_inactive_refuses_holds_until_activated()
    {
        var s = new Scenario();
        var pool = s.Create(10, active: false);

        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((pool, 1)).Code);
        Assert.Equal(OutcomeCode.Ok, s.SetActive(pool, true).Code);
        Assert.Equal(OutcomeCode.Ok, s.Hold((pool, 1)).Code);
        s.AssertConsistent();
    }

    [Fact]
    public void An_inactive_ancestor_refuses_new_holds_on_its_descendants()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var level = s.Shared(venue);
        var section = s.Capped(10, level);
        var elsewhere = s.Own(10);
        s.SetActive(venue, false);
        var before = s.Snapshot();

        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((section, 1)).Code);
        Assert.Equal(OutcomeCode.CapacityInactive, s.Hold((elsewhere, 1), (section, 1)).Code);
        Assert.Equal(before, s.Snapshot());
        Assert.True(s.Node(section).IsActive);
        s.AssertConsistent();
    }

    [Fact]
    public void Existing_holds_on_an_inactive_capacity_can_still_be_confirmed_released_and_cancelled()
    {
        var s = new Scenario();
        var venue = s.Own(100);
        var section = s.Capped(10, venue);
        var toConfirm = s.HoldOk((section, 2));
        var toRelease = s.HoldOk((section, 3));
        s.SetActive(venue, false);

        Assert.Equal(OutcomeCode.Ok, s.Confirm(toConfirm).Code);
        Assert.Equal(OutcomeCode.Ok, s.Release(toRelease).Code);
        Assert.Equal(2, s.Node(venue).Sold);
        Assert.Equal(0, s.Node(venue).Reserved);
        Assert.Equal(OutcomeCode.Ok, s.Cancel(toConfirm).Code);
        Assert.Equal(0, s.Node(venue).Sold);
        s.AssertConsistent();
    }

    [Fact]
    public void Existing_holds_on_an_inactive_capacity_still_expire()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var hold = s.HoldOkFor(5, (pool, 2));
        s.SetActive(pool, false);
        s.AdvanceMinutes(5);

        var outcome = s.ExpireDue(hold);

        Assert.Equal(1, outcome.Count);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Update_keeps_fields_it_does_not_set()
    {
        var s = new Scenario();
        var pool = s.Create(10, name: "Stalls");
        s.HoldOk((pool, 2));

        var outcome = s.Do(new UpdateCapacity(s.Tenant, pool, Change<string>.To("Circle"), Change<string?>.To("C"), Change<int?>.Keep, Change<bool>.Keep));

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        Assert.Equal("Circle", s.Node(pool).SectionName);
        Assert.Equal("C", s.Node(pool).SectionCode);
        Assert.Equal(10, s.Node(pool).Total);
        Assert.True(s.Node(pool).IsActive);
        Assert.Equal(8, outcome.Capacity!.Value.Available);
        s.AssertConsistent();
    }
}

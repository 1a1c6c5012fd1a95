using System.Collections;
using System.Reflection;
using Capacity.Core;

namespace Capacity.Core.Tests;

/// <summary>
/// Which commands may join a batch after its rows are loaded (<see cref="LoadKeys.Covers"/>): those
/// whose every key the batch has loaded, but for the ids they are about to create.
/// </summary>
public sealed class LoadKeysTests
{
    private static readonly Guid Tenant = Guid.NewGuid();

    [Fact]
    public void A_hold_on_a_loaded_pool_is_covered_whatever_id_it_creates()
    {
        var pool = Guid.NewGuid();
        var loaded = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 2, null)], 15));

        Assert.True(loaded.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15))));
    }

    [Fact]
    public void A_hold_on_another_pool_or_at_another_price_is_not_covered()
    {
        var pool = Guid.NewGuid();
        var price = Guid.NewGuid();
        var loaded = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, price)], 15, "buyer-1"));

        Assert.True(loaded.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, price)], 15, "buyer-1"))));
        Assert.False(loaded.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(Guid.NewGuid(), 1, price)], 15, "buyer-1"))));
        Assert.False(loaded.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, Guid.NewGuid())], 15, "buyer-1"))));
    }

    /// <summary>A buyer's usage is guarded by the locks of its capacity and that capacity's limits, which the batch holds: it is only read.</summary>
    [Fact]
    public void A_hold_for_another_buyer_is_covered_on_a_pool_the_batch_names_and_not_elsewhere()
    {
        var pool = Guid.NewGuid();
        var loaded = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15, "buyer-1"));
        var elsewhere = new LoadKeys();
        elsewhere.Buyers.Add((Guid.NewGuid(), "buyer-2"));

        Assert.True(loaded.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15, "buyer-2"))));
        Assert.False(loaded.Covers(elsewhere));
    }

    /// <summary>
    /// A batch reads a buyer's usage only where a loaded limit covers the capacity, widened over that
    /// limit's capacities; a batch that creates a limit reads every pair it names, since a hold decided
    /// after the limit in the same batch is checked against a usage the load could not know it needed.
    /// </summary>
    [Fact]
    public void Usage_is_read_only_where_a_limit_covers_the_capacity_unless_the_batch_creates_a_limit()
    {
        var (free, stalls, circle, limitId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var ws = new WorkingSet();
        foreach (var (id, limits) in new[] { (free, Array.Empty<Guid>()), (stalls, [limitId]), (circle, [limitId]) })
        {
            ws.Load(new CapacityNode
            {
                Id = id, TenantId = Tenant, EventId = "e", SectionName = "S", ParentIds = [], Total = 10,
                CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch, LimitIds = limits,
            });
        }

        ws.Load(new BuyerLimit
        {
            Id = limitId, TenantId = Tenant, EventId = "e", Name = "Two", CapacityIds = [stalls, circle], PerBuyerMax = 2,
            CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
        });
        var keys = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(free, 1, null), new HoldItem(stalls, 1, null)], 15, "fan"));

        Assert.True(keys.UsageKeys(ws).SetEquals([(stalls, "fan"), (circle, "fan")]));
        new CreateBuyerLimit(Tenant, Guid.NewGuid(), "e", "One", [free], 1, false).CollectKeys(keys);
        Assert.True(keys.UsageKeys(ws).SetEquals([(free, "fan"), (stalls, "fan"), (circle, "fan")]));
    }

    /// <summary>So a command that creates a limit joins only a batch that reads every buyer's usage already.</summary>
    [Fact]
    public void A_limit_s_creation_is_covered_only_by_a_batch_that_creates_one_too()
    {
        var pool = Guid.NewGuid();
        var limit = Guid.NewGuid();
        var create = new CreateBuyerLimit(Tenant, limit, "e", "Four", [pool], 4, false);
        var holds = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15, "fan"));
        holds.Limits.Add(limit);
        holds.MayFreeUnits = true; // as if a release were among the holds: only the limit's creation is at stake

        Assert.False(holds.Covers(KeysOf(create)));
        create.CollectKeys(holds);
        Assert.True(holds.Covers(KeysOf(create)));
    }

    /// <summary>
    /// The store folds the usage log of a new limit's capacities at the load, so a limit over a
    /// capacity the batch loaded but folded no log for waits for a batch of its own.
    /// </summary>
    [Fact]
    public void A_limit_s_creation_joins_a_batch_that_creates_limits_only_over_capacities_that_batch_folded()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var batch = KeysOf(new CreateBuyerLimit(Tenant, Guid.NewGuid(), "e", "Four", [first], 4, false));
        batch.Capacities.Add(second);
        var over = (Guid capacity) => KeysOf(new CreateBuyerLimit(Tenant, Guid.NewGuid(), "e", "Two", [capacity], 2, false));

        Assert.Equal([first], batch.LimitCapacities);
        var elsewhere = over(second);
        var again = over(first);
        batch.Limits.UnionWith(elsewhere.Limits);
        batch.Limits.UnionWith(again.Limits);
        Assert.False(batch.Covers(elsewhere));
        Assert.True(batch.Covers(again));
    }

    [Fact]
    public void A_change_of_a_hold_is_never_covered_even_by_a_batch_that_changes_the_same_hold()
    {
        var hold = Guid.NewGuid();
        var pool = Guid.NewGuid();
        var change = new ChangeHold(Tenant, hold, [new HoldItem(pool, 2, null)], null);

        Assert.False(KeysOf(change).Covers(KeysOf(change)));
    }

    [Fact]
    public void Two_changes_of_one_hold_keep_the_capacities_of_both_as_its_targets()
    {
        var hold = Guid.NewGuid();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var keys = new LoadKeys();
        new ChangeHold(Tenant, hold, [new HoldItem(a, 2, null)], null).CollectKeys(keys);
        new ChangeHold(Tenant, hold, [new HoldItem(b, 1, null), new HoldItem(a, 1, null)], null).CollectKeys(keys);

        Assert.Equal(new[] { a, b }.Order(), keys.ReservationTargets[hold].Order());
    }

    /// <summary>
    /// Commands that change who is sent a tenant's notices name the tenant (<see cref="LoadKeys.EndpointChanges"/>;
    /// on PostgreSQL they then lock its capacities); those that change only where or how a delivery is sent do not.
    /// </summary>
    [Fact]
    public void Creating_deleting_disabling_or_resubscribing_an_endpoint_names_its_tenant_and_a_new_url_or_secret_does_not()
    {
        var id = Guid.NewGuid();
        Command[] changes =
        [
            new CreateWebhook(Tenant, id, "https://a.example/hook", Topics.All, null, "whsec_c2VjcmV0"),
            new DeleteWebhook(Tenant, id),
            new UpdateWebhook(Tenant, id, Change<string>.Keep, Change<Topics>.To(Topics.CapacitySoldOut), Change<string?>.Keep, Change<bool>.Keep),
            new UpdateWebhook(Tenant, id, Change<string>.Keep, Change<Topics>.Keep, Change<string?>.Keep, Change<bool>.To(false)),
        ];
        Command[] others =
        [
            new UpdateWebhook(Tenant, id, Change<string>.To("https://b.example/hook"), Change<Topics>.Keep, Change<string?>.To("moved"), Change<bool>.Keep),
            new RotateWebhookSecret(Tenant, id, "whsec_bmV3"),
            new RecordDeliveryAttempt(Tenant, id, 1, 200, null, 5, 0.5),
        ];

        Assert.All(changes, c => Assert.Equal([Tenant], KeysOf(c).EndpointChanges));
        Assert.All(others, c => Assert.Empty(KeysOf(c).EndpointChanges));
    }

    /// <summary>
    /// Every set of keys a batch loads by is compared: a kind of key added to <see cref="LoadKeys"/>
    /// and left out of <see cref="LoadKeys.Covers"/> would let a command join a batch that never
    /// loaded its rows. Only the ids about to be created are exempt (they are looked up, not locked);
    /// a buyer counts as loaded only on a capacity the batch names, which a fresh id never is.
    /// </summary>
    [Fact]
    public void A_key_of_any_kind_that_the_batch_has_not_loaded_keeps_the_command_out()
    {
        var kinds = typeof(LoadKeys).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => typeof(IEnumerable).IsAssignableFrom(p.PropertyType))
            .ToList();
        Assert.True(kinds.Count >= 19, $"found {kinds.Count} kinds of key");

        foreach (var kind in kinds)
        {
            var candidate = new LoadKeys();
            AddOne(kind.GetValue(candidate)!);
            var covered = new LoadKeys().Covers(candidate);
            Assert.True(covered == (kind.Name == nameof(LoadKeys.NewReservations)), $"{kind.Name}: covered {covered}");
        }
    }

    /// <summary>
    /// A waiting list is loaded for the units its entries are owed only when the batch may free some:
    /// holds take units (the counters already refuse them the owed ones), a release or a resize may
    /// give some back, and a hold on a tier's earlier capacity may open the tier.
    /// </summary>
    [Fact]
    public void A_batch_of_holds_needs_no_waiting_list_for_owed_units_unless_a_command_may_free_some_or_a_tier_may_open()
    {
        var owed = OwedNode();
        var holds = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(owed.Id, 1, null)], 15));
        Assert.False(holds.MayFreeUnits);
        Assert.Empty(holds.QueueEvents(new WorkingSet(), [owed]));

        var withResize = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(owed.Id, 1, null)], 15));
        new UpdateCapacity(Tenant, owed.Id, default, default, Change<int?>.To(20), default).CollectKeys(withResize);
        Assert.True(withResize.MayFreeUnits);
        Assert.Equal([(Tenant, "gig")], withResize.QueueEvents(new WorkingSet(), [owed]));

        var release = KeysOf(new TransitionReservation(Tenant, Guid.NewGuid(), Transition.Release));
        Assert.Equal([(Tenant, "gig")], release.QueueEvents(new WorkingSet(), [owed]));

        var tier = OwedNode();
        tier.QueueDemand = 0;
        tier.Sale = new SaleRules(Successors: [owed.Id]);
        Assert.Equal([(Tenant, "gig")], holds.QueueEvents(new WorkingSet(), [tier, owed]));

        holds.Clear();
        Assert.False(holds.MayFreeUnits);
    }

    /// <summary>A batch of holds loaded no waiting list, so a command that may free units must wait for a batch of its own.</summary>
    [Fact]
    public void A_command_that_may_free_units_is_not_covered_by_a_batch_of_holds_on_the_same_pool()
    {
        var pool = Guid.NewGuid();
        var holds = KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15));
        var resize = KeysOf(new UpdateCapacity(Tenant, pool, default, default, Change<int?>.To(20), default));

        Assert.False(holds.Covers(resize));
        Assert.True(resize.Covers(KeysOf(new PlaceHold(Tenant, Guid.NewGuid(), [new HoldItem(pool, 1, null)], 15))));
        Assert.True(resize.Covers(KeysOf(new UpdateCapacity(Tenant, pool, default, default, Change<int?>.To(30), default))));
    }

    private static CapacityNode OwedNode() => new()
    {
        Id = Guid.NewGuid(),
        TenantId = Tenant,
        EventId = "gig",
        SectionName = "Floor",
        ParentIds = [],
        Total = 10,
        QueueDemand = 2,
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    private static LoadKeys KeysOf(Command command)
    {
        var keys = new LoadKeys();
        command.CollectKeys(keys);
        return keys;
    }

    /// <summary>Adds one element of the collection's element type, built from defaults and a fresh id.</summary>
    private static void AddOne(object collection)
    {
        var type = collection.GetType();
        var arguments = type.GetGenericArguments();
        var add = type.GetMethod("Add", arguments)!;
        add.Invoke(collection, [.. arguments.Select(ValueOf)]);
    }

    private static object ValueOf(Type type) =>
        type == typeof(Guid) ? Guid.NewGuid()
        : type == typeof(string) ? "k"
        : type.IsArray ? Array.CreateInstance(type.GetElementType()!, 0)
        : type.IsGenericType && type.FullName!.StartsWith("System.ValueTuple", StringComparison.Ordinal)
            ? Activator.CreateInstance(type, [.. type.GetGenericArguments().Select(ValueOf)])!
            : Activator.CreateInstance(type)!;
}

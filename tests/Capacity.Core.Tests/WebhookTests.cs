namespace Capacity.Core.Tests;

/// <summary>
/// Webhooks in the core: which notices a command gives rise to (decided from what it did, in the same
/// batch), who is told, and the fate of each delivery attempt (backoff, giving up, disabling).
/// </summary>
public sealed class WebhookTests
{
    private static Guid Subscribe(Scenario s, Topics topics = Topics.All, Guid? tenant = null, string url = "https://hooks.example.com/in")
    {
        var id = s.NewId();
        var outcome = s.Do(new CreateWebhook(tenant ?? s.Tenant, id, url, topics, null, "whsec_c2VjcmV0"));
        Assert.True(outcome.Code == OutcomeCode.Ok, $"subscribing answered {outcome.Code}: {outcome.Detail}");
        return id;
    }

    private static List<Topics> Told(Scenario s) => [.. s.LastNotices.Select(n => n.Topic)];

    [Fact]
    public void A_pool_that_sells_out_is_told_once_and_a_release_afterwards_tells_it_is_available_again()
    {
        var s = new Scenario();
        var pool = s.Own(3);
        Subscribe(s, Topics.CapacitySoldOut | Topics.CapacityAvailable);
        s.HoldOk((pool, 2));
        Assert.Empty(s.LastNotices);
        var last = s.HoldOk((pool, 1));
        var soldOut = Assert.Single(s.LastNotices);
        Assert.Equal((Topics.CapacitySoldOut, pool, 0L), (soldOut.Topic, ((CapacityView)soldOut.Subject).Id, ((CapacityView)soldOut.Subject).Available));
        Assert.Equal(OutcomeCode.InsufficientCapacity, s.Hold((pool, 1)).Code);
        Assert.Empty(s.LastNotices);

        s.Release(last);
        Assert.Equal([Topics.CapacityAvailable], Told(s));
        s.AssertConsistent();
    }

    [Fact]
    public void Availability_crossing_the_low_watermark_is_told_once_on_the_way_down_and_again_only_after_it_went_back_above()
    {
        var s = new Scenario();
        var pool = s.Own(20);
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdateCapacity(s.Tenant, pool, default, default, default, default, null,
            new SalePatch(default, default, default, default, default, Change<int?>.To(5)))).Code);
        Subscribe(s, Topics.CapacityLow);
        var first = s.HoldOk((pool, 14));
        Assert.Empty(s.LastNotices);
        s.HoldOk((pool, 1));
        Assert.Equal([Topics.CapacityLow], Told(s));
        s.HoldOk((pool, 1));
        Assert.Empty(s.LastNotices);
        s.Release(first);
        Assert.Empty(s.LastNotices);
        s.HoldOk((pool, 14));
        Assert.Equal([Topics.CapacityLow], Told(s));
        s.AssertConsistent();
    }

    [Fact]
    public void Each_ended_hold_is_told_with_its_status_after_the_change()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        Subscribe(s);
        var confirmed = s.HoldOk((pool, 1));
        var released = s.HoldOk((pool, 1));
        var expiring = s.HoldOkFor(5, (pool, 1));
        s.Confirm(confirmed);
        Assert.Equal((Topics.ReservationConfirmed, ReservationStatus.Confirmed), (s.LastNotices[0].Topic, ((Reservation)s.LastNotices[0].Subject).Status));
        s.Release(released);
        Assert.Equal([Topics.ReservationReleased], Told(s));
        s.AdvanceMinutes(6);
        s.ExpireDue(expiring);
        Assert.Equal([Topics.ReservationExpired], Told(s));
        s.Cancel(confirmed);
        Assert.Equal([Topics.ReservationCancelled], Told(s));
        Assert.All(s.Notices, n => Assert.Equal(s.EventId, n.EventId));
        s.AssertConsistent();
    }

    [Fact]
    public void An_expiry_over_two_tenants_holds_in_turn_tells_only_the_watching_tenant_of_each_of_its_own()
    {
        var s = new Scenario();
        var poolA = s.Own(10);
        var poolB = s.Create(10, tenant: Scenario.TenantB);
        Subscribe(s, Topics.ReservationExpired, tenant: Scenario.TenantB);
        Guid HoldB()
        {
            var id = s.NewId();
            Assert.Equal(OutcomeCode.Ok, s.Do(new PlaceHold(Scenario.TenantB, id, [new HoldItem(poolB, 1, null)], 5)).Code);
            return id;
        }

        // The sweeper's one command expires many tenants' holds: its entries change tenant from one hold to the next.
        var holds = new[] { s.HoldOkFor(5, (poolA, 1)), HoldB(), s.HoldOkFor(5, (poolA, 1)), HoldB() };
        s.AdvanceMinutes(6);
        s.ExpireDue(holds);

        Assert.Equal([(Scenario.TenantB, holds[1]), (Scenario.TenantB, holds[3])], s.LastNotices.Select(n => (n.TenantId, ((Reservation)n.Subject).Id)));
        Assert.All(s.LastNotices, n => Assert.Equal(Topics.ReservationExpired, n.Topic));
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_over_a_cart_of_three_nodes_is_one_notice_not_one_per_node()
    {
        var s = new Scenario();
        var venue = s.Own(100, "Venue");
        var a = s.Capped(10, venue);
        var b = s.Capped(10, venue);
        Subscribe(s, Topics.ReservationConfirmed);
        s.Confirm(s.HoldOk((a, 1), (b, 2)));
        Assert.Equal([Topics.ReservationConfirmed], Told(s));
    }

    [Fact]
    public void Nobody_subscribed_means_no_notice_and_another_tenants_endpoint_hears_nothing_of_this_one()
    {
        var s = new Scenario();
        var pool = s.Own(1);
        Subscribe(s, tenant: Scenario.TenantB);
        s.Confirm(s.HoldOk((pool, 1)));
        Assert.Empty(s.Notices);
    }

    [Fact]
    public void A_disabled_endpoint_and_topics_not_asked_for_give_rise_to_no_notice()
    {
        var s = new Scenario();
        var pool = s.Own(5);
        var hook = Subscribe(s, Topics.ReservationReleased);
        s.Confirm(s.HoldOk((pool, 1)));
        Assert.Empty(s.LastNotices);
        s.Do(new UpdateWebhook(s.Tenant, hook, default, default, default, Change<bool>.To(false)));
        s.Release(s.HoldOk((pool, 1)));
        Assert.Empty(s.LastNotices);
        s.Do(new UpdateWebhook(s.Tenant, hook, default, default, default, Change<bool>.To(true)));
        s.Release(s.HoldOk((pool, 1)));
        Assert.Equal([Topics.ReservationReleased], Told(s));
    }

    [Fact]
    public void A_tier_that_opens_and_the_early_bird_that_closes_are_each_told_as_a_state_change_with_the_reason()
    {
        var s = new Scenario();
        var early = s.Own(1, "Early bird");
        var regular = s.CreateCommand(10, null, "Regular") with { Sale = new SaleRules(OpensAfter: early) };
        s.Do(regular);
        Subscribe(s, Topics.CapacityStateChanged);
        s.HoldOk((early, 1));
        var changes = s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)).ToList();
        Assert.Contains((regular.Id, "tier_opened"), changes);
        Assert.Contains((early, "sold_out"), changes);
    }

    [Fact]
    public void A_capacity_on_sale_made_a_tier_of_one_already_sold_out_stays_on_sale_and_its_opening_is_neither_told_nor_recorded()
    {
        var s = new Scenario();
        var early = s.Own(1, "Early bird");
        var regular = s.Own(10, "Regular");
        s.HoldOk((early, 1));
        Subscribe(s, Topics.CapacityStateChanged);

        var patch = new SalePatch(default, default, Change<Guid?>.To(early), default, default);
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdateCapacity(s.Tenant, regular, Change<string>.Keep, Change<string?>.Keep, default, default, null, patch)).Code);
        Assert.True(s.Node(regular).Sale!.TierOpen);
        Assert.DoesNotContain(s.LastLedger, e => e.Kind == LedgerKind.Open);

        // The early bird, watched from now on, is closed by its sell-out: that is a change, and told.
        Assert.Equal([(early, (string?)"sold_out")], s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)));
        s.HoldOk((regular, 1));

        // A capacity created as a tier of one sold out opens as it is made, and that is recorded and told.
        var late = s.CreateCommand(10, null, "Late") with { Sale = new SaleRules(OpensAfter: early) };
        s.Do(late);
        Assert.Contains((LedgerKind.Open, late.Id), s.LastLedger.Select(e => (e.Kind, e.CapacityId)));
        s.AssertConsistent();
    }

    [Fact]
    public void Every_tier_a_sell_out_opens_and_every_capacity_a_cart_closes_is_told_not_only_the_first()
    {
        var s = new Scenario();
        var early = s.Own(1, "Early bird");
        var tiers = Enumerable.Range(1, 3).Select(i => s.CreateCommand(5, null, $"Tier {i}") with { Sale = new SaleRules(OpensAfter: early) }).ToList();
        tiers.ForEach(t => s.Do(t));
        var pool = s.CreateCommand(2, null, "Pool") with { Sale = new SaleRules(CloseWhenSoldOut: true) };
        s.Do(pool);
        var section = s.CreateCommand(2, [pool.Id], "Section") with { Sale = new SaleRules(CloseWhenSoldOut: true) };
        s.Do(section);
        Subscribe(s, Topics.CapacityStateChanged);

        s.HoldOk((early, 1));
        var changes = s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)).ToList();
        Assert.Equal([.. tiers.Select(t => (t.Id, (string?)"tier_opened")), (early, "sold_out")], changes);

        // A section and its pool, both closing when sold out, sold out by one hold: both are told.
        s.HoldOk((section.Id, 2));
        Assert.Equal([(section.Id, "sold_out"), (pool.Id, "sold_out")], s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)).ToList());
        s.AssertConsistent();
    }

    [Fact]
    public void Deactivating_and_reactivating_a_capacity_is_told_and_a_rename_is_not()
    {
        var s = new Scenario();
        var pool = s.Own(5);
        Subscribe(s, Topics.CapacityStateChanged);
        s.SetActive(pool, false);
        Assert.Equal("deactivated", Assert.Single(s.LastNotices).Reason);
        s.Do(new UpdateCapacity(s.Tenant, pool, Change<string>.To("Renamed"), default, default, default));
        Assert.Empty(s.LastNotices);
        s.SetActive(pool, true);
        Assert.Equal("activated", Assert.Single(s.LastNotices).Reason);
    }

    [Fact]
    public void A_resize_to_what_is_taken_sells_out_and_growing_it_again_makes_it_available()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        s.HoldOk((pool, 4));
        Subscribe(s, Topics.CapacitySoldOut | Topics.CapacityAvailable);
        s.Resize(pool, 4);
        Assert.Equal([Topics.CapacitySoldOut], Told(s));
        s.Resize(pool, 6);
        Assert.Equal([Topics.CapacityAvailable], Told(s));
    }

    [Fact]
    public void Closing_an_allocation_is_told_and_a_waiting_list_offer_and_its_lapse_are_told()
    {
        var s = new Scenario();
        var pool = s.Own(2);
        Subscribe(s, Topics.AllocationClosed | Topics.WaitlistOffered | Topics.WaitlistLapsed);
        var block = s.AllocateOk(pool, 1);
        s.CloseAllocation(block);
        Assert.Equal([Topics.AllocationClosed], Told(s));

        s.EnableWaitlist(pool, offerMinutes: 5);
        var hold = s.HoldOk((pool, 2));
        var entry = s.JoinOk((pool, 1));
        s.Release(hold);
        var offered = Assert.Single(s.LastNotices);
        Assert.Equal((Topics.WaitlistOffered, entry), (offered.Topic, ((WaitlistEntryView)offered.Subject).Id));
        s.AdvanceMinutes(6);
        s.ExpireDue(entry);
        Assert.Contains(Topics.WaitlistLapsed, Told(s));
        s.AssertConsistent();
    }

    [Fact]
    public void An_offer_ended_by_its_buyer_leaving_the_list_is_told_as_lapsed_with_the_entry_left()
    {
        var s = new Scenario();
        var pool = s.Own(1);
        Subscribe(s, Topics.WaitlistOffered | Topics.WaitlistLapsed | Topics.ReservationReleased);
        s.EnableWaitlist(pool, offerMinutes: 5);
        var hold = s.HoldOk((pool, 1));
        var first = s.JoinOk((pool, 1));
        var second = s.JoinOk((pool, 1));
        s.Release(hold);
        Assert.Equal(first, ((WaitlistEntryView)Assert.Single(s.LastNotices, n => n.Topic == Topics.WaitlistOffered).Subject).Id);

        Assert.Equal(OutcomeCode.Ok, s.Leave(first).Code);
        var lapsed = Assert.Single(s.LastNotices, n => n.Topic == Topics.WaitlistLapsed);
        Assert.Equal((first, WaitlistStatus.Left), (((WaitlistEntryView)lapsed.Subject).Id, ((WaitlistEntryView)lapsed.Subject).Status));
        Assert.Contains(s.LastNotices, n => n.Topic == Topics.ReservationReleased);
        Assert.Equal(second, ((WaitlistEntryView)Assert.Single(s.LastNotices, n => n.Topic == Topics.WaitlistOffered).Subject).Id);

        // Leaving while still waiting ends no offer: nothing to tell.
        var third = s.JoinOk((pool, 1));
        Assert.Equal(OutcomeCode.Ok, s.Leave(third).Code);
        Assert.DoesNotContain(s.LastNotices, n => n.Topic == Topics.WaitlistLapsed);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData("ftp://example.com/x")]
    [InlineData("/relative")]
    [InlineData("https://user:pw@example.com/x")]
    [InlineData("https://example.com/x#fragment")]
    [InlineData("https://example.com/a b")]
    [InlineData("")]
    public void A_url_that_is_not_an_absolute_http_address_is_refused(string url)
    {
        var s = new Scenario();
        var outcome = s.Do(new CreateWebhook(s.Tenant, s.NewId(), url, Topics.All, null, "whsec_x"));
        Assert.Equal((OutcomeCode.Invalid, "url"), (outcome.Code, outcome.Field));
        Assert.Empty(s.Ws.NewEndpoints);
    }

    [Fact]
    public void No_topic_is_refused_and_a_tenant_has_at_most_its_limit_of_endpoints()
    {
        var s = new Scenario { Limits = CoreLimits.Default with { MaxWebhooks = 2 } };
        Assert.Equal("events", s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://a.example", Topics.None, null, "whsec_x")).Field);
        Subscribe(s);
        Subscribe(s);
        var refused = s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://a.example", Topics.All, null, "whsec_x"));
        Assert.Equal((OutcomeCode.TooManyWebhooks, 2), (refused.Code, refused.Count));
        Subscribe(s, tenant: Scenario.TenantB);
    }

    [Fact]
    public void Another_tenants_endpoint_is_not_found_for_every_command()
    {
        var s = new Scenario();
        var hook = Subscribe(s);
        var other = Scenario.TenantB;
        Assert.Equal(OutcomeCode.NotFound, s.Do(new UpdateWebhook(other, hook, default, default, default, Change<bool>.To(false))).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new RotateWebhookSecret(other, hook, "whsec_y")).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new DeleteWebhook(other, hook)).Code);
        Assert.Equal(OutcomeCode.NotFound, s.Do(new RetryDelivery(other, hook, 1)).Code);
        Assert.True(s.Ws.FindEndpoint(hook)!.Enabled);
    }

    private static (Scenario S, Guid Hook, WebhookDelivery Delivery) Pending()
    {
        var s = new Scenario();
        var hook = Subscribe(s);
        var delivery = new WebhookDelivery { EndpointId = hook, Sequence = 1, TenantId = s.Tenant, OccurredAt = s.Now, RetryingSince = s.Now, NextAttemptAt = s.Now };
        s.Ws.Load(delivery);
        return (s, hook, delivery);
    }

    [Fact]
    public void Failed_attempts_back_off_exponentially_with_jitter_and_a_success_clears_the_endpoints_failure()
    {
        var (s, hook, d) = Pending();
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 500, "HTTP 500", 12, Jitter: 0));
        Assert.Equal((DeliveryStatus.Pending, 1, s.Now.AddSeconds(5)), (d.Status, d.Attempts, d.NextAttemptAt));
        Assert.Equal(s.Now, s.Ws.FindEndpoint(hook)!.FailingSince);
        s.Advance(TimeSpan.FromSeconds(5));
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, null, "timed out", 5000, Jitter: 0.5));
        Assert.Equal(s.Now.AddSeconds(12.5), d.NextAttemptAt);
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 204, null, 3, Jitter: 0));
        Assert.Equal((DeliveryStatus.Delivered, 3, (DateTimeOffset?)null), (d.Status, d.Attempts, d.NextAttemptAt));
        Assert.Null(s.Ws.FindEndpoint(hook)!.FailingSince);
        Assert.Equal(OutcomeCode.Unchanged, s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 500, "late duplicate", 1, 0)).Code);
        Assert.Equal(DeliveryStatus.Delivered, d.Status);
    }

    [Fact]
    public void After_a_day_of_failures_the_delivery_fails_and_the_endpoint_is_disabled_and_a_retry_by_hand_starts_a_new_window()
    {
        var (s, hook, d) = Pending();
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 503, "HTTP 503", 1, 0));
        s.Advance(TimeSpan.FromHours(23));
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 503, "HTTP 503", 1, 0));
        Assert.Equal(DeliveryStatus.Pending, d.Status);
        Assert.True(s.Ws.FindEndpoint(hook)!.Enabled);
        s.Advance(TimeSpan.FromHours(1));
        s.Do(new RecordDeliveryAttempt(s.Tenant, hook, 1, 503, "HTTP 503", 1, 0));
        Assert.Equal((DeliveryStatus.Failed, (DateTimeOffset?)null), (d.Status, d.NextAttemptAt));
        var endpoint = s.Ws.FindEndpoint(hook)!;
        Assert.Equal((false, DeliveryPolicy.FailingReason), (endpoint.Enabled, endpoint.DisabledReason));

        s.Do(new UpdateWebhook(s.Tenant, hook, default, default, default, Change<bool>.To(true)));
        Assert.Equal((true, (string?)null, (DateTimeOffset?)null), (endpoint.Enabled, endpoint.DisabledReason, endpoint.FailingSince));
        Assert.Equal(OutcomeCode.Ok, s.Do(new RetryDelivery(s.Tenant, hook, 1)).Code);
        Assert.Equal((DeliveryStatus.Pending, s.Now, s.Now), (d.Status, d.NextAttemptAt, d.RetryingSince));
    }

    [Fact]
    public void The_backoff_doubles_from_five_seconds_to_at_most_four_hours_and_jitter_stretches_it_by_at_most_half()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), DeliveryPolicy.Backoff(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(40), DeliveryPolicy.Backoff(4, 0));
        Assert.Equal(TimeSpan.FromHours(4), DeliveryPolicy.Backoff(30, 0));
        Assert.Equal(TimeSpan.FromHours(6), DeliveryPolicy.Backoff(30, 1));
    }

    [Fact]
    public void Topic_names_read_back_as_the_topics_they_name()
    {
        foreach (var name in TopicNames.All)
        {
            Assert.True(TopicNames.TryParse(name, out var topic));
            Assert.Equal(name, TopicNames.Of(topic));
        }

        Assert.Equal(11, TopicNames.All.Count());
        Assert.Equal(Topics.All, TopicNames.All.Select(n => TopicNames.TryParse(n, out var t) ? t : Topics.None).Aggregate((a, b) => a | b));
        Assert.False(TopicNames.TryParse("capacity.SOLD_OUT", out _));
    }
}

/// <summary>The clock's changes of state are told when the sweep passes a window's edge.</summary>
public sealed class WebhookWindowTests
{
    [Fact]
    public void A_window_that_opens_and_ends_is_told_as_sale_started_and_sale_ended_once_each()
    {
        var s = new Scenario();
        var create = s.CreateCommand(5, null, "Presale") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(10), EndsAt: s.Now.AddMinutes(20)) };
        s.Do(create);
        s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://hooks.example.com/in", Topics.CapacityStateChanged, null, "whsec_c2VjcmV0"));
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([create.Id]));
        Assert.Equal("sale_started", Assert.Single(s.LastNotices).Reason);
        s.Do(new PassSaleEdges([create.Id]));
        Assert.Empty(s.LastNotices);
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([create.Id]));
        Assert.Equal("sale_ended", Assert.Single(s.LastNotices).Reason);
    }

    [Fact]
    public void A_put_of_the_sale_rules_between_an_edge_and_the_sweep_passes_the_edge_and_tells_it_first()
    {
        var s = new Scenario();
        var create = s.CreateCommand(5, null, "Presale") with { Sale = new SaleRules(StartsAt: s.Now.AddMinutes(10)) };
        s.Do(create);
        s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://hooks.example.com/in", Topics.CapacityStateChanged, null, "whsec_c2VjcmV0"));

        // The window opened a moment ago and no sweep has passed it: the PUT (a new low watermark) does.
        s.AdvanceMinutes(10);
        var put = s.Do(new UpdateCapacity(s.Tenant, create.Id, Change<string>.Keep, Change<string?>.Keep, Change<int?>.Keep, Change<bool>.Keep, null,
            new SalePatch(default, default, default, default, default, Change<int?>.To(2))));
        Assert.Equal(OutcomeCode.Ok, put.Code);
        Assert.Equal([(create.Id, "sale_started")], s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)));
        s.Do(new PassSaleEdges([create.Id]));
        Assert.Empty(s.LastNotices);
    }

    [Fact]
    public void An_edge_that_opens_or_closes_nothing_is_not_told_a_deactivated_capacity_a_tier_not_open_or_one_its_sell_out_closed()
    {
        var s = new Scenario();
        var window = new SaleRules(StartsAt: s.Now.AddMinutes(10), EndsAt: s.Now.AddMinutes(20));
        var off = s.CreateCommand(5, null, "Off") with { Sale = window, IsActive = false };
        var early = s.CreateCommand(5, null, "Early");
        var tier = s.CreateCommand(5, null, "Tier") with { Sale = window with { OpensAfter = early.Id } };
        var flash = s.CreateCommand(1, null, "Flash") with { Sale = window with { CloseWhenSoldOut = true } };
        foreach (var command in new[] { off, early, tier, flash })
        {
            Assert.Equal(OutcomeCode.Ok, s.Do(command).Code);
        }

        s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://hooks.example.com/in", Topics.CapacityStateChanged, null, "whsec_c2VjcmV0"));
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([off.Id, tier.Id, flash.Id]));
        Assert.Equal([(flash.Id, "sale_started")], s.LastNotices.Select(n => (((CapacityView)n.Subject).Id, n.Reason)));

        // The flash sale sells out and closes before its window's end: the end closes nothing more.
        s.HoldOk((flash.Id, 1));
        s.AdvanceMinutes(10);
        s.Do(new PassSaleEdges([off.Id, tier.Id, flash.Id]));
        Assert.Empty(s.LastNotices);
        s.AssertConsistent();
    }
}

/// <summary>What a hold became decides its notice, not the ledger kind of each movement.</summary>
public sealed class WebhookChangeTests
{
    [Fact]
    public void A_change_that_gives_units_back_and_a_partial_confirm_are_not_told_as_releases()
    {
        var s = new Scenario();
        var a = s.Own(10, "A");
        var b = s.Own(10, "B");
        s.Do(new CreateWebhook(s.Tenant, s.NewId(), "https://hooks.example.com/in", Topics.All, null, "whsec_c2VjcmV0"));
        var hold = s.HoldOk((a, 3), (b, 2));
        Assert.Equal(OutcomeCode.Ok, s.Do(new ChangeHold(s.Tenant, hold, [new HoldItem(a, 1, null), new HoldItem(b, 2, null)], null)).Code);
        Assert.DoesNotContain(s.LastNotices, n => n.Topic == Topics.ReservationReleased);
        Assert.Equal(OutcomeCode.Ok, s.Do(new ConfirmHold(s.Tenant, hold, [new ItemQuantity(a, 1)], false)).Code);
        Assert.Equal([Topics.ReservationConfirmed], s.LastNotices.Select(n => n.Topic));
    }
}

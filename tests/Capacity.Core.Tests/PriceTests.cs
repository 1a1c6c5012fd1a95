namespace Capacity.Core.Tests;

/// <summary>Prices locked on holds, and what a reservation costs.</summary>
public sealed class PriceTests
{
    private static Outcome HoldPriced(Scenario s, params (Guid Capacity, int Quantity, Guid? Pricing)[] items) =>
        s.Do(s.HoldCommand(15, [.. items.Select(i => new HoldItem(i.Capacity, i.Quantity, i.Pricing))]));

    [Fact]
    public void A_priced_hold_locks_the_current_price_when_one_is_set()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, basePrice: 50m, currentPrice: 42.5m, serviceFee: 1.25m, facilityFee: 0.75m, taxRate: 0.2m);

        var outcome = HoldPriced(s, (pool, 2, price));

        Assert.Equal(OutcomeCode.Ok, outcome.Code);
        var locked = outcome.Reservation!.Value.Items[0].LockedPrice!;
        Assert.Equal(price, locked.PricingId);
        Assert.Equal(42.5m, locked.UnitPrice);
        Assert.Equal(1.25m, locked.ServiceFee);
        Assert.Equal(0.75m, locked.FacilityFee);
        Assert.Equal(0.2m, locked.TaxRate);
        Assert.Equal("EUR", locked.Currency);
        Assert.Equal("Standard", locked.Name);
        Assert.Equal(s.Now, locked.LockedAt);
        s.AssertConsistent();
    }

    [Fact]
    public void A_priced_hold_locks_the_base_price_when_no_current_price_is_set()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, basePrice: 50m);

        var outcome = HoldPriced(s, (pool, 1, price));

        Assert.Equal(50m, outcome.Reservation!.Value.Items[0].LockedPrice!.UnitPrice);
        s.AssertConsistent();
    }

    [Fact]
    public void A_current_price_of_zero_is_a_real_price_and_is_locked_as_zero()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, basePrice: 50m, currentPrice: 0m);

        var outcome = HoldPriced(s, (pool, 3, price));

        Assert.Equal(0m, outcome.Reservation!.Value.Items[0].LockedPrice!.UnitPrice);
        var total = Assert.Single(Totals.Of(outcome.Reservation!.Value));
        Assert.Equal(0m, total.Subtotal);
        Assert.Equal(0m, total.Total);
        s.AssertConsistent();
    }

    [Fact]
    public void A_hold_without_a_pricing_id_has_no_locked_price_and_costs_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10);

        var outcome = s.Hold((pool, 2));

        Assert.Null(outcome.Reservation!.Value.Items[0].LockedPrice);
        Assert.Empty(Totals.Of(outcome.Reservation!.Value));
        s.AssertConsistent();
    }

    [Fact]
    public void Updating_a_price_never_changes_a_lock_already_taken()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, basePrice: 50m, currentPrice: 40m);
        var first = HoldPriced(s, (pool, 1, price)).Reservation!.Value.Id;

        Assert.Equal(OutcomeCode.Ok, s.SetCurrentPrice(price, 75m).Code);
        Assert.Equal(OutcomeCode.Ok, s.Do(new UpdatePrice(s.Tenant, price, Change<string>.To("Renamed"), Change<decimal>.To(90m), Change<decimal?>.Keep,
            Change<decimal>.To(5m), Change<decimal>.Keep, Change<decimal>.To(0.5m), Change<string>.To("USD"))).Code);
        s.AdvanceMinutes(1);
        s.Confirm(first);

        var locked = s.Reservation(first).Items[0].LockedPrice!;
        Assert.Equal(40m, locked.UnitPrice);
        Assert.Equal("Standard", locked.Name);
        Assert.Equal(0m, locked.ServiceFee);
        Assert.Equal("EUR", locked.Currency);

        // A new hold takes the new price.
        var second = HoldPriced(s, (pool, 1, price)).Reservation!.Value;
        Assert.Equal(75m, second.Items[0].LockedPrice!.UnitPrice);
        Assert.Equal("USD", second.Items[0].LockedPrice!.Currency);
        s.AssertConsistent();
    }

    [Fact]
    public void Clearing_the_current_price_falls_back_to_the_base_price_for_new_holds()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, basePrice: 50m, currentPrice: 40m);

        s.SetCurrentPrice(price, null);

        Assert.Equal(50m, HoldPriced(s, (pool, 1, price)).Reservation!.Value.Items[0].LockedPrice!.UnitPrice);
        s.AssertConsistent();
    }

    [Fact]
    public void A_pricing_of_another_capacity_is_Invalid_and_changes_nothing()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var other = s.Own(10);
        var otherPrice = s.Price(other, 10m);
        var before = s.Snapshot();

        var outcome = HoldPriced(s, (pool, 1, null), (pool, 1, otherPrice));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("items[1].pricing_id", outcome.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_pricing_of_another_tenant_is_Invalid_like_one_that_does_not_exist()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        // The other tenant's price is attached to an id of theirs; it can never match one of ours.
        var theirPool = s.Create(10, tenant: Scenario.TenantB);
        var theirPrice = s.Price(theirPool, 10m, tenant: Scenario.TenantB);
        var before = s.Snapshot();

        var foreign = HoldPriced(s, (pool, 1, theirPrice));
        var missing = HoldPriced(s, (pool, 1, s.NewId()));

        Assert.Equal(OutcomeCode.Invalid, foreign.Code);
        Assert.Equal((missing.Code, missing.Field), (foreign.Code, foreign.Field));
        Assert.Equal("items[0].pricing_id", foreign.Field);
        Assert.Equal(before, s.Snapshot());
        s.AssertConsistent();
    }

    [Fact]
    public void A_pricing_loaded_for_our_capacity_but_owned_by_another_tenant_is_Invalid()
    {
        // A corrupted or hostile row: right capacity id, wrong tenant. The tenant check alone refuses it.
        var s = new Scenario();
        var pool = s.Own(10);
        var foreignPrice = new PriceEntry(s.NewId(), Scenario.TenantB, pool, "Sneaky", 1m, null, 0m, 0m, 0m, "EUR", s.Now, s.Now);
        s.Ws.Load(foreignPrice);

        var outcome = HoldPriced(s, (pool, 1, foreignPrice.Id));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal("items[0].pricing_id", outcome.Field);
        Assert.Equal(0, s.Node(pool).Reserved);
        s.AssertConsistent();
    }

    [Fact]
    public void Prices_of_another_tenant_cannot_be_created_or_updated()
    {
        var s = new Scenario();
        var pool = s.Own(10);
        var price = s.Price(pool, 10m);

        var create = s.Do(new CreatePrice(Scenario.TenantB, s.NewId(), pool, "X", 1m, null, 0m, 0m, 0m, "EUR"));
        var update = s.SetCurrentPrice(price, 1m, Scenario.TenantB);
        var updateMissing = s.SetCurrentPrice(s.NewId(), 1m);

        Assert.Equal(OutcomeCode.NotFound, create.Code);
        Assert.Equal(OutcomeCode.NotFound, update.Code);
        Assert.Equal(OutcomeCode.NotFound, updateMissing.Code);
        Assert.Null(s.Ws.FindPrice(price)!.CurrentPrice);
        s.AssertConsistent();
    }

    [Theory]
    [InlineData(-1, null, "EUR", "base_price")]
    [InlineData(1.00001, null, "EUR", "base_price")]
    [InlineData(1, -0.01, "EUR", "current_price")]
    [InlineData(1, null, "eur", "currency")]
    [InlineData(1, null, "EURO", "currency")]
    public void A_price_of_the_wrong_shape_is_Invalid(double basePrice, double? currentPrice, string currency, string field)
    {
        var s = new Scenario();
        var pool = s.Own(10);

        var outcome = s.Do(new CreatePrice(s.Tenant, s.NewId(), pool, "X", (decimal)basePrice, (decimal?)currentPrice, 0m, 0m, 0m, currency));

        Assert.Equal(OutcomeCode.Invalid, outcome.Code);
        Assert.Equal(field, outcome.Field);
        s.AssertConsistent();
    }

    [Fact]
    public void Totals_sum_each_currency_separately_with_tax_on_the_unit_price_rounded_per_line()
    {
        var s = new Scenario();
        var pool = s.Own(100);
        var eurA = s.Price(pool, basePrice: 10m, serviceFee: 1.5m, facilityFee: 0.5m, taxRate: 0.19m);
        var eurB = s.Price(pool, basePrice: 3.33m, taxRate: 0.07m);
        var usd = s.Price(pool, basePrice: 20m, currentPrice: 25m, currency: "USD", serviceFee: 2m, taxRate: 0.1m);

        var r = HoldPriced(s, (pool, 2, eurA), (pool, 3, eurB), (pool, 1, usd), (pool, 4, null)).Reservation!.Value;
        var totals = Totals.Of(r);

        Assert.Equal(2, totals.Length);
        var eur = totals.Single(t => t.Currency == "EUR");
        // eurA: 2 × 10 = 20, fees 2 × 2 = 4, tax 3.80. eurB: 9.99, tax 0.6993 → 0.70.
        Assert.Equal(29.99m, eur.Subtotal);
        Assert.Equal(4m, eur.Fees);
        Assert.Equal(4.50m, eur.Tax);
        Assert.Equal(38.49m, eur.Total);
        var dollars = totals.Single(t => t.Currency == "USD");
        Assert.Equal(new PriceTotal("USD", 25m, 2m, 2.5m, 29.5m), dollars);
        s.AssertConsistent();
    }

    [Fact]
    public void Totals_round_tax_half_away_from_zero()
    {
        var s = new Scenario();
        var r = new Reservation(s.NewId(), Scenario.TenantA, ReservationStatus.Active,
            [new ReservationItem(s.NewId(), 1, new LockedPrice(s.NewId(), "P", 0.5m, 0m, 0m, 0.05m, "EUR", Scenario.Start))],
            Scenario.Start, Scenario.Start.AddMinutes(15), null, null);

        // 0.5 × 0.05 = 0.025 → 0.03, not the banker's 0.02.
        Assert.Equal(0.03m, Assert.Single(Totals.Of(r)).Tax);
    }
}

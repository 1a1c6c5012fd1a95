using Capacity.Testing;

namespace Capacity.Server.Tests;

public sealed class MoneyFormatTests_on_sqlite() : MoneyFormatTests(StoreKind.Sqlite);

public sealed class MoneyFormatTests_on_postgres() : MoneyFormatTests(StoreKind.Postgres);

/// <summary>Money in every answer has its currency's minor-unit digits, as JSON numbers: 85.00 EUR, 1200 JPY, 1.500 KWD.</summary>
public abstract class MoneyFormatTests(StoreKind store)
{
    [Theory]
    [InlineData("EUR", "85", "7.5", "0.1", "\"unit_price\":85.00", "\"service_fee\":7.50", "\"subtotal\":170.00", "\"fees\":15.00", "\"tax\":17.00", "\"total\":202.00")]
    [InlineData("EUR", "85.00000000", "7.5000000", "0.100000000", "\"unit_price\":85.00", "\"service_fee\":7.50", "\"subtotal\":170.00", "\"fees\":15.00", "\"tax\":17.00", "\"total\":202.00")] // a NUMERIC column's trailing zeros
    [InlineData("JPY", "1200.00", "0", "0.1", "\"unit_price\":1200", "\"service_fee\":0", "\"subtotal\":2400", "\"fees\":0", "\"tax\":240", "\"total\":2640")]
    [InlineData("KWD", "1.5", "0.25", "0.05", "\"unit_price\":1.500", "\"service_fee\":0.250", "\"subtotal\":3.000", "\"fees\":0.500", "\"tax\":0.150", "\"total\":3.650")]
    public async Task Prices_locked_prices_and_totals_are_written_with_the_currencys_digits(
        string currency, string price, string fee, string tax, params string[] expected)
    {
        await using var app = await CapacityApp.CreateAsync(store);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var pricing = await t.PostAsync($"/capacity/{pool}/pricing", Api.Json(
            $$"""{"name":"Standard","base_price":{{price}},"service_fee":{{fee}},"tax_rate":{{tax}},"currency":"{{currency}}"}"""));
        var pricingText = await pricing.Content.ReadAsStringAsync();
        Assert.Contains(expected[0].Replace("unit_price", "base_price", StringComparison.Ordinal), pricingText, StringComparison.Ordinal);
        var pricingId = System.Text.Json.Nodes.JsonNode.Parse(pricingText)!["id"]!.GetValue<string>();

        var hold = await t.PostAsync($"/capacity/{pool}/reserve", Api.Json($$"""{"quantity":2,"pricing_id":"{{pricingId}}"}"""));
        var holdText = await hold.Content.ReadAsStringAsync();
        var read = await (await t.GetAsync($"/reservations/{System.Text.Json.Nodes.JsonNode.Parse(holdText)!["reservation"]!["id"]!.GetValue<string>()}")).Content.ReadAsStringAsync();
        foreach (var text in new[] { holdText, read })
        {
            foreach (var fragment in expected)
            {
                Assert.Contains(fragment, text, StringComparison.Ordinal);
            }
        }

        await app.AssertInvariantsAsync();
    }
}

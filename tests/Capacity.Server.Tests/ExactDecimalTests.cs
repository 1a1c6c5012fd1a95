using System.Text;
using Capacity.Server.Http;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>A number with more decimal places than a decimal keeps is refused, however it is written; trailing zeros are not places.</summary>
public sealed class ExactDecimalTests
{
    [Theory]
    [InlineData("0.00000000000000000000000000001")]
    [InlineData("0.99999999999999999999999999999")]
    [InlineData("1e-29")]
    [InlineData("1.5E-28")]
    [InlineData("-0.100000000000000000000000000001")]
    [InlineData("1e-99999999999999999999")]
    public void A_number_a_decimal_would_round_has_too_many_places(string number) =>
        Assert.True(ExactDecimal.TooManyPlaces(Encoding.UTF8.GetBytes(number)));

    [Theory]
    [InlineData("0")]
    [InlineData("40.50")]
    [InlineData("1.500000000000000000000000000000000000")]
    [InlineData("0.0000000000000000000000000001")]
    [InlineData("1e-28")]
    [InlineData("12.5e-27")]
    [InlineData("1e40")]
    [InlineData("1E+3")]
    [InlineData("-7")]
    public void A_number_a_decimal_keeps_exactly_has_not(string number) =>
        Assert.False(ExactDecimal.TooManyPlaces(Encoding.UTF8.GetBytes(number)));

    [Fact]
    public async Task A_price_written_with_many_trailing_zeros_or_explicit_nulls_is_taken()
    {
        await using var app = await CapacityApp.CreateAsync(StoreKind.Sqlite);
        var t = (await app.NewTenantAsync()).Client;
        var pool = await t.CreateCapacityAsync("gig", "Floor", 10);
        var body = """{"name":"P","base_price":40.500000000000000000000000000000000,"current_price":null,"service_fee":null,"facility_fee":1e0,"tax_rate":0.2000000000000000000000000000000,"currency":"EUR"}""";
        var price = await Api.ReadAsync(await t.PostAsync($"/capacity/{pool}/pricing", new StringContent(body, Encoding.UTF8, "application/json")), 201);
        Assert.Equal(40.5m, price["base_price"]!.GetValue<decimal>());
        Assert.Null(price["current_price"]);
        Assert.Equal(1m, price["facility_fee"]!.GetValue<decimal>());
        Assert.Equal(0.2m, price["tax_rate"]!.GetValue<decimal>());
    }
}

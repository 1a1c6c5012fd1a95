using System.Text;
using Capacity.Server.Http;

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
}

namespace Capacity.Core.Tests;

public sealed class MoneyTests
{
    [Theory]
    [InlineData("85", "EUR", "85.00")]
    [InlineData("7.5", "EUR", "7.50")]
    [InlineData("85.0000", "EUR", "85.00")]
    [InlineData("0.1234", "EUR", "0.1234")]
    [InlineData("1200", "JPY", "1200")]
    [InlineData("1200.00", "JPY", "1200")]
    [InlineData("1.5", "KWD", "1.500")]
    [InlineData("0", "USD", "0.00")]
    [InlineData("12", "XTS", "12.00")]
    public void An_amount_is_written_with_its_currencys_minor_unit_digits_padded_never_rounded(string amount, string currency, string shown) =>
        Assert.Equal(shown, Money.Show(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency).ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Tax_is_rounded_to_the_minor_unit_of_its_currency_half_away_from_zero()
    {
        Assert.Equal("1.13", Money.Round(1.125m, "EUR").ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("113", Money.Round(112.5m, "JPY").ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0.013", Money.Round(0.0125m, "KWD").ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

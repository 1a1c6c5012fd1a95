namespace Capacity.Core;

/// <summary>
/// How many digits a currency's minor unit has (ISO 4217), and amounts written with them: 85 EUR is
/// 85.00, 7.5 is 7.50, 1200 JPY is 1200, 1.5 KWD is 1.500. The same in every answer, so a client that
/// compares or prints amounts never sees 85 in one place and 85.00 in another.
/// </summary>
public static class Money
{
    // Every active ISO 4217 currency whose minor unit is not 2 digits; the rest have 2.
    private static readonly Dictionary<string, int> NotTwo = new(StringComparer.Ordinal)
    {
        ["BIF"] = 0, ["CLP"] = 0, ["DJF"] = 0, ["GNF"] = 0, ["ISK"] = 0, ["JPY"] = 0, ["KMF"] = 0, ["KRW"] = 0,
        ["PYG"] = 0, ["RWF"] = 0, ["UGX"] = 0, ["UYI"] = 0, ["VND"] = 0, ["VUV"] = 0, ["XAF"] = 0, ["XOF"] = 0, ["XPF"] = 0,
        ["BHD"] = 3, ["IQD"] = 3, ["JOD"] = 3, ["KWD"] = 3, ["LYD"] = 3, ["OMR"] = 3, ["TND"] = 3,
        ["CLF"] = 4, ["UYW"] = 4,
    };

    // 0, 0.0, 0.00, …: adding one sets a decimal's scale to at least that many digits without changing its value.
    private static readonly decimal[] Zeros = [0m, 0.0m, 0.00m, 0.000m, 0.0000m];

    /// <summary>The digits of the currency's minor unit: 2 unless ISO 4217 says otherwise (codes it does not know have 2).</summary>
    public static int MinorDigits(string currency) => NotTwo.TryGetValue(currency, out var digits) ? digits : 2;

    /// <summary>
    /// The amount with the currency's digits: padded, never rounded. A price set with finer digits
    /// (up to <see cref="Rules.MaxMoneyDecimals"/>, say 0.1234 EUR a unit) keeps them, because it is exact.
    /// </summary>
    public static decimal Show(decimal amount, string currency)
    {
        // Dividing by 1 with 28 zeros strips trailing zeros (85.0000 becomes 85); adding zeros pads back.
        var normalized = amount / 1.0000000000000000000000000000m;
        return normalized + Zeros[MinorDigits(currency)];
    }

    /// <summary>The amount rounded to the currency's minor unit, half away from zero: tax per line.</summary>
    public static decimal Round(decimal amount, string currency) =>
        Show(Math.Round(amount, MinorDigits(currency), MidpointRounding.AwayFromZero), currency);
}

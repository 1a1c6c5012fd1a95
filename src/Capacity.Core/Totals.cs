namespace Capacity.Core;

/// <summary>What a reservation costs in one currency.</summary>
public sealed record PriceTotal(string Currency, decimal Subtotal, decimal Fees, decimal Tax, decimal Total);

public static class Totals
{
    /// <summary>
    /// Sums the locked prices per currency (a cart across events may mix them). Tax applies to the
    /// unit price, not to fees, and is rounded to the currency's minor unit per line, half away from
    /// zero (cents for EUR, whole yen for JPY). Items held without a price contribute nothing. Every
    /// amount has the currency's digits (<see cref="Money.Show"/>).
    /// </summary>
    public static PriceTotal[] Of(Reservation reservation)
    {
        var totals = new List<PriceTotal>();
        foreach (var item in reservation.Items)
        {
            if (item.LockedPrice is not { } p)
            {
                continue;
            }

            var subtotal = item.Quantity * p.UnitPrice;
            var fees = item.Quantity * (p.ServiceFee + p.FacilityFee);
            var tax = Money.Round(subtotal * p.TaxRate, p.Currency);
            var index = totals.FindIndex(t => t.Currency == p.Currency);
            if (index < 0)
            {
                totals.Add(new PriceTotal(p.Currency, subtotal, fees, tax, subtotal + fees + tax));
            }
            else
            {
                var t = totals[index];
                totals[index] = new PriceTotal(t.Currency, t.Subtotal + subtotal, t.Fees + fees, t.Tax + tax, t.Total + subtotal + fees + tax);
            }
        }

        return [.. totals.Select(t => new PriceTotal(
            t.Currency, Money.Show(t.Subtotal, t.Currency), Money.Show(t.Fees, t.Currency), Money.Show(t.Tax, t.Currency), Money.Show(t.Total, t.Currency)))];
    }
}

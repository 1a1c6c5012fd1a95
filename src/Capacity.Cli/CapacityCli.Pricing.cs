using System.CommandLine;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// The <c>pricing</c> commands: a capacity's price entries. A hold that names one (<c>reserve --pricing</c>) locks its
/// price then; changing the entry later never changes what a hold locked.
/// </summary>
public static partial class CapacityCli
{
    private static Command PricingCommands(Host host)
    {
        var name = new Option<string>("--name", "-n") { Description = "The entry's name, such as \"Adult\"", Required = true };
        var price = new Option<decimal>("--price") { Description = "The list price (base_price), up to 4 decimals", Required = true };
        var currency = new Option<string>("--currency") { Description = "The ISO 4217 code, such as EUR", Required = true };
        var current = new Option<decimal?>("--current-price") { Description = "A price that overrides the list price while it is set, such as a discount" };
        var serviceFee = new Option<decimal?>("--service-fee") { Description = "A fee per ticket [default: 0]" };
        var facilityFee = new Option<decimal?>("--facility-fee") { Description = "Another fee per ticket [default: 0]" };
        var taxRate = new Option<decimal?>("--tax-rate") { Description = "The tax rate on the price, 0 to 1, such as 0.2 [default: 0]" };
        var create = host.OneWrite(Call(host, "create", "Add a price entry to a capacity; holds that name it lock its price",
            new Argument<Guid>("capacity-id") { Description = "The capacity to price" }, CliJson.Default.PricingDetails, Views.Pricing,
            (p, client, capacityId, ct) => client.CreatePricingAsync(capacityId, new CreatePricingRequest
            {
                Name = p.GetRequiredValue(name),
                BasePrice = p.GetValue(price),
                Currency = p.GetRequiredValue(currency),
                CurrentPrice = p.GetValue(current),
                ServiceFee = p.GetValue(serviceFee),
                FacilityFee = p.GetValue(facilityFee),
                TaxRate = p.GetValue(taxRate),
            }, host.IdempotencyKeyOf(p), ct),
            name, price, currency, current, serviceFee, facilityFee, taxRate));

        var list = Call(host, "list", "List a capacity's price entries, with the price a hold would lock now",
            new Argument<Guid>("capacity-id") { Description = "The capacity" }, CliJson.Default.PricingList, l => Views.Prices(l.Pricing),
            async (_, client, capacityId, ct) => new PricingList(await client.ListPricingAsync(capacityId, ct)));

        var show = OnPricing(host, "show", "Show a price entry", (_, client, id, ct) => client.GetPricingAsync(id, ct));

        var newName = new Option<string>("--name", "-n") { Description = "A new name" };
        var newPrice = new Option<decimal>("--price") { Description = "A new list price" };
        var newCurrent = new Option<decimal?>("--current-price") { Description = "A new overriding price" };
        var noCurrent = new Option<bool>("--no-current-price") { Description = "Remove the overriding price: the list price applies again" };
        var newServiceFee = new Option<decimal>("--service-fee") { Description = "A new fee per ticket" };
        var newFacilityFee = new Option<decimal>("--facility-fee") { Description = "Another new fee per ticket" };
        var newTaxRate = new Option<decimal>("--tax-rate") { Description = "A new tax rate, 0 to 1" };
        var newCurrency = new Option<string>("--currency") { Description = "A new ISO 4217 code" };
        var update = host.OneWrite(OnPricing(host, "update", "Change a price entry's fields given (at least one); holds keep the price they locked", (p, client, id, ct) =>
            client.UpdatePricingAsync(id, new UpdatePricingRequest
            {
                Name = Given(p, newName),
                BasePrice = Given(p, newPrice),
                CurrentPrice = p.GetValue(noCurrent) ? new Optional<decimal?>(null) : Given(p, newCurrent),
                ServiceFee = Given(p, newServiceFee),
                FacilityFee = Given(p, newFacilityFee),
                TaxRate = Given(p, newTaxRate),
                Currency = Given(p, newCurrency),
            }, host.IdempotencyKeyOf(p), ct),
            newName, newPrice, newCurrent, noCurrent, newServiceFee, newFacilityFee, newTaxRate, newCurrency));
        RequireAny(update, newName, newPrice, newCurrent, noCurrent, newServiceFee, newFacilityFee, newTaxRate, newCurrency);
        update.Validators.Add(result =>
        {
            if (IsGiven(result.GetResult(newCurrent)) && IsGiven(result.GetResult(noCurrent)))
            {
                result.AddError("Give --current-price or --no-current-price, not both.");
            }
        });

        return new Command("pricing", "A capacity's price entries: the prices holds lock") { create, list, show, update };
    }

    private static Command OnPricing(
        Host host, string name, string description, Func<ParseResult, CapacityClient, Guid, CancellationToken, Task<PricingDetails>> call, params Option[] options) =>
        Call(host, name, description, new Argument<Guid>("pricing-id") { Description = "The price entry" },
            CliJson.Default.PricingDetails, Views.Pricing, call, options);
}

namespace Capacity.Core;

public static partial class Decider
{
    private static Outcome CreatePrice(WorkingSet set, CreatePrice command, DateTimeOffset now, CoreLimits limits)
    {
        var node = set.FindCapacity(command.CapacityId);
        if (node is null || node.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Capacity {command.CapacityId} was not found.");
        }

        var price = new PriceEntry(command.Id, command.TenantId, command.CapacityId, command.Name, command.BasePrice, command.CurrentPrice,
            command.ServiceFee, command.FacilityFee, command.TaxRate, command.Currency, now, now);
        if (CheckPrice(price, null, limits) is { } invalid)
        {
            return invalid;
        }

        price = Trimmed(price);
        if (set.FindPrice(command.Id) is not null)
        {
            return Outcome.Invalid("id", $"Pricing {command.Id} already exists.");
        }

        set.AddNew(price);
        return new Outcome(OutcomeCode.Ok) { Price = price };
    }

    private static Outcome UpdatePrice(WorkingSet set, UpdatePrice command, DateTimeOffset now, CoreLimits limits)
    {
        var current = set.FindPrice(command.Id);
        if (current is null || current.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Pricing {command.Id} was not found.");
        }

        var price = current with
        {
            Name = command.Name.Or(current.Name),
            BasePrice = command.BasePrice.Or(current.BasePrice),
            CurrentPrice = command.CurrentPrice.Or(current.CurrentPrice),
            ServiceFee = command.ServiceFee.Or(current.ServiceFee),
            FacilityFee = command.FacilityFee.Or(current.FacilityFee),
            TaxRate = command.TaxRate.Or(current.TaxRate),
            Currency = command.Currency.Or(current.Currency),
            UpdatedAt = now,
        };
        if (CheckPrice(price, current, limits) is { } invalid)
        {
            return invalid;
        }

        price = Trimmed(price);

        // A PUT that changes nothing writes nothing, and updated_at keeps saying when it last changed.
        if (price with { UpdatedAt = current.UpdatedAt } == current)
        {
            return new Outcome(OutcomeCode.Ok) { Price = current };
        }

        set.Replace(price);
        return new Outcome(OutcomeCode.Ok) { Price = price };
    }

    private static PriceEntry Trimmed(PriceEntry p) => p with
    {
        BasePrice = Rules.Trimmed(p.BasePrice, Rules.MaxMoneyDecimals),
        CurrentPrice = p.CurrentPrice is { } current ? Rules.Trimmed(current, Rules.MaxMoneyDecimals) : null,
        ServiceFee = Rules.Trimmed(p.ServiceFee, Rules.MaxMoneyDecimals),
        FacilityFee = Rules.Trimmed(p.FacilityFee, Rules.MaxMoneyDecimals),
        TaxRate = Rules.Trimmed(p.TaxRate, Rules.MaxTaxRateDecimals),
    };

    // stored: the entry as it is, for an update; its name as stored is not judged again.
    private static Outcome? CheckPrice(PriceEntry price, PriceEntry? stored, CoreLimits limits)
    {
        if (!Rules.IsValidNameChange(price.Name, stored?.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", Rules.NameRule("name", limits.MaxNameLength, price.Name));
        }

        if (!Rules.IsValidMoney(price.BasePrice, limits.MaxPrice))
        {
            return Outcome.Invalid("base_price", $"base_price must be between 0 and {limits.MaxPrice} with at most {Rules.MaxMoneyDecimals} decimals.");
        }

        if (price.CurrentPrice is { } currentPrice && !Rules.IsValidMoney(currentPrice, limits.MaxPrice))
        {
            return Outcome.Invalid("current_price", $"current_price must be between 0 and {limits.MaxPrice} with at most {Rules.MaxMoneyDecimals} decimals, or null.");
        }

        if (!Rules.IsValidMoney(price.ServiceFee, limits.MaxPrice))
        {
            return Outcome.Invalid("service_fee", $"service_fee must be between 0 and {limits.MaxPrice} with at most {Rules.MaxMoneyDecimals} decimals.");
        }

        if (!Rules.IsValidMoney(price.FacilityFee, limits.MaxPrice))
        {
            return Outcome.Invalid("facility_fee", $"facility_fee must be between 0 and {limits.MaxPrice} with at most {Rules.MaxMoneyDecimals} decimals.");
        }

        if (!Rules.IsValidTaxRate(price.TaxRate))
        {
            return Outcome.Invalid("tax_rate", $"tax_rate must be between 0 and 1 with at most {Rules.MaxTaxRateDecimals} decimals.");
        }

        if (!Rules.IsValidCurrency(price.Currency))
        {
            return Outcome.Invalid("currency", "currency must be an ISO 4217 code such as EUR or USD.");
        }

        return null;
    }
}

namespace Capacity.Core;

/// <summary>Units of one capacity, named by a change to a hold.</summary>
public readonly record struct ItemQuantity(Guid CapacityId, int Quantity) : IDemand
{
    Guid? IDemand.AllocationId => null;
}

/// <summary>
/// New target quantities for an active hold, per capacity (<c>PATCH /reservations/{id}</c>): lower ones
/// give units back, higher ones and new capacities are checked all-or-nothing, 0 removes a capacity,
/// all 0 releases the hold. <paramref name="Minutes"/>, when given, sets a new expiry from now.
/// A target's <see cref="HoldItem.PricingId"/> prices the units it adds.
/// </summary>
public sealed record ChangeHold(Guid TenantId, Guid ReservationId, HoldItem[] Items, int? Minutes) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Reservations.Add(ReservationId);

        // Units added to a priced item without a pricing_id lock the current price of the item's own entry;
        // units added to a keyed hold count against its buyer's usage on their capacity.
        keys.ReservationPrices.Add(ReservationId);
        keys.AddReservationTargets(ReservationId, Array.ConvertAll(Items, i => i.CapacityId));
        foreach (var item in Items)
        {
            keys.Capacities.Add(item.CapacityId);
            if (item.PricingId is { } p)
            {
                keys.Prices.Add(p);
            }
        }
    }
}

/// <summary>
/// Confirms a hold in part or after it expired: <paramref name="Items"/> confirms these quantities and
/// releases the rest; <paramref name="Reclaim"/> confirms an expired hold whose tickets are still
/// available under every rule, keeping its locked prices.
/// </summary>
public sealed record ConfirmHold(Guid TenantId, Guid ReservationId, ItemQuantity[]? Items, bool Reclaim) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Reservations.Add(ReservationId);
}

/// <summary>Refunds part of a sale: these quantities leave it; the last unit refunded cancels it.</summary>
public sealed record CancelSale(Guid TenantId, Guid ReservationId, ItemQuantity[] Items) : Command
{
    protected override void AddKeys(LoadKeys keys) => keys.Reservations.Add(ReservationId);
}

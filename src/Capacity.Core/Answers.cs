using System.Runtime.CompilerServices;

namespace Capacity.Core;

/// <summary>
/// The answers of the hot commands (hold, confirm, release, extend), each built in a small method of
/// its own that is never inlined. An <see cref="Outcome"/> is a few hundred bytes and a refusal formats
/// a sentence; built inline, every one of them becomes a temporary in the deciding method's frame,
/// which the runtime zeroes on every call whether that answer is given or not (the cost is measured
/// by <c>DecideBenchmarks</c>; see docs/performance.md). Built here, the answer is written straight
/// into the caller's return slot.
/// </summary>
internal static class Answers
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Held(in Reservation reservation, in CapacityView capacity) => new(OutcomeCode.Ok, reservation, capacity);

    /// <summary>A hold's state after a transition, or as it stands when the transition was already done.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Of(OutcomeCode code, in Reservation reservation) => new(code, reservation);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome ItemCount(CoreLimits limits) =>
        Outcome.Invalid("items", $"A reservation holds 1 to {limits.MaxItemsPerReservation} items.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome HoldMinutes(int maxMinutes) =>
        Outcome.Invalid("reservation_minutes", $"reservation_minutes must be between 1 and {maxMinutes}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome ReservationExists(Guid id) => Outcome.Invalid("id", $"Reservation {id} already exists.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Quantity(CoreLimits limits, int index) =>
        new(OutcomeCode.InvalidQuantity, $"Quantity {Rules.QuantityRule(limits)}", $"items[{index}].quantity");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome CapacityNotFound(Guid id) => Outcome.NotFound($"Capacity {id} was not found.");

    // price: what the id found, if anything; another tenant's price reads as none, as its id would anywhere else.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome PriceNotOfCapacity(int index, Guid pricingId, Guid capacityId, PriceEntry? price, Guid tenantId) =>
        Outcome.Invalid($"items[{index}].pricing_id", price is not null && price.TenantId == tenantId
            ? $"Pricing {pricingId} does not belong to capacity {capacityId}."
            : $"Pricing {pricingId} does not exist.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Inactive(CapacityNode node, ICapacityLookup lookup) =>
        new(OutcomeCode.CapacityInactive, node.ClosedBySellOut
            ? $"Capacity {node.Id} ({node.SectionName}) closed when it sold out and takes no new holds; only a PUT with is_active: true reopens it."
            : $"Capacity {node.Id} ({node.SectionName}) is inactive and takes no new holds.") { Capacity = Graph.View(node, lookup) };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Short(CapacityNode node, long requested, long left, long? available) =>
        new(OutcomeCode.InsufficientCapacity) { Available = available, Shortage = new Shortage(node.Id, node.SectionName, requested, left, node.OwedUnits) };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome ReservationNotFound(Guid id) => Outcome.NotFound($"Reservation {id} was not found.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome Expired(in Reservation r) =>
        new(OutcomeCode.ReservationExpired, $"Reservation {r.Id} expired at {Rules.Instant(r.ExpiresAt)}.") { Reservation = r };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome CancelNotConfirmed(in Reservation r) =>
        new(OutcomeCode.ReservationNotActive, $"Reservation {r.Id} is not confirmed; release a hold instead of cancelling it.") { Reservation = r };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome NotActive(in Reservation r) =>
        new(OutcomeCode.ReservationNotActive, $"Reservation {r.Id} is {r.Status.ToString().ToLowerInvariant()}.") { Reservation = r };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome ExtendMinutes(CoreLimits limits) =>
        Outcome.Invalid("minutes", $"minutes must be between 1 and {limits.MaxHoldMinutes}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome ExtensionLimit(in Reservation r, CoreLimits limits, DateTimeOffset latest) =>
        new(OutcomeCode.ExtensionLimit, $"A hold may live at most {limits.MaxLifetimeMinutes} minutes from creation; this one can be extended until {Rules.Instant(latest)}.") { Reservation = r };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome OfAllocation(Allocation allocation, OutcomeCode code = OutcomeCode.Ok) =>
        new(code) { Allocation = AllocationView.Of(allocation) };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome AllocationNotFound(Guid id) => Outcome.NotFound($"Allocation {id} was not found.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome AllocationClosed(Allocation allocation) =>
        new(OutcomeCode.AllocationClosed, $"Allocation {allocation.Id} ({allocation.Name}) is closed.") { Allocation = AllocationView.Of(allocation) };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome AllocationShort(Allocation allocation, long requested) =>
        new(OutcomeCode.AllocationInsufficient, $"Not enough idle tickets in allocation {allocation.Name}: {requested} requested, {allocation.Idle} idle.")
        {
            Available = allocation.Idle,
            Allocation = AllocationView.Of(allocation),
        };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome AllocationNotOfCapacity(int index, Guid allocationId, Guid capacityId) =>
        Outcome.Invalid($"items[{index}].allocation_id", $"Allocation {allocationId} does not belong to capacity {capacityId}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome BuyerKey() => Outcome.Invalid("buyer_key", $"buyer_key {Rules.BuyerKeyRule}");

    /// <summary>A hold refused because a capacity it draws from is not on sale: not yet (window or tier), or no longer.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Outcome NotOnSale(WorkingSet set, CapacityNode node, DateTimeOffset now) =>
        SaleRulesOf.Refusal(node, Graph.View(node, set, set.Closure), now);
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capacity.Core;

/// <summary>
/// The only place that decides. Each command is checked in full before anything is applied, so a
/// refused command leaves the working set exactly as it was (a cart is all-or-nothing).
/// </summary>
public static class Decider
{
    // A switch statement with a return per case rather than a switch expression: the expression
    // puts each answer in a temporary and copies it out (an answer is a few hundred bytes), while a
    // returned call writes straight into the caller's slot.
    public static Outcome Decide(WorkingSet ws, Command command, DateTimeOffset now, CoreLimits limits)
    {
        switch (command)
        {
            case PlaceHold c: return Hold(ws, c, now, limits);
            case TransitionReservation c: return Transit(ws, c, now);
            case ExtendReservation c: return Extend(ws, c, now, limits);
            case ExpireDue c: return Expire(ws, c, now);
            case CreateCapacity c: return Create(ws, c, now, limits);
            case UpdateCapacity c: return Update(ws, c, now, limits);
            case CreatePrice c: return CreatePricing(ws, c, now, limits);
            case UpdatePrice c: return UpdatePricing(ws, c, now, limits);
            case CreateTenant c: return NewTenant(ws, c, now, limits);
            case AddApiKey c: return NewKey(ws, c, now);
            default: throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "Unknown command.");
        }
    }

    private static Outcome Hold(WorkingSet ws, PlaceHold c, DateTimeOffset now, CoreLimits limits)
    {
        if (c.Items.Length == 0 || c.Items.Length > limits.MaxItemsPerReservation)
        {
            return Answers.ItemCount(limits);
        }

        var maxMinutes = Math.Min(limits.MaxHoldMinutes, limits.MaxLifetimeMinutes);
        if (c.Minutes < 1 || c.Minutes > maxMinutes)
        {
            return Answers.HoldMinutes(maxMinutes);
        }

        if (ws.HasReservation(c.ReservationId))
        {
            return Answers.ReservationExists(c.ReservationId);
        }

        // Every item is checked before anything is built, so that a refused hold allocates nothing.
        var priced = false;
        CapacityNode? first = null;
        for (var i = 0; i < c.Items.Length; i++)
        {
            var item = c.Items[i];
            if (item.Quantity < 1 || item.Quantity > limits.MaxQuantityPerItem)
            {
                return Answers.Quantity(limits, i);
            }

            var node = ws.FindCapacity(item.CapacityId);
            if (node is null || node.TenantId != c.TenantId)
            {
                return Answers.CapacityNotFound(item.CapacityId);
            }

            first ??= node;

            if (item.PricingId is { } pricingId)
            {
                var price = ws.FindPrice(pricingId);
                if (price is null || price.TenantId != c.TenantId || price.CapacityId != item.CapacityId)
                {
                    return Answers.PriceNotOfCapacity(i, pricingId, item.CapacityId);
                }

                priced = true;
            }
        }

        if (!SumDemand(ws, c.Items, out var inactive, first))
        {
            return Answers.Inactive(inactive!);
        }

        // The refusal is returned after the loop, not from inside it: returned from the loop, its
        // answer went through a temporary that the method zeroed on every call, refused or not.
        CapacityNode? shortNode = null;
        var (requested, left) = (0L, 0L);
        foreach (ref readonly var d in CollectionsMarshal.AsSpan(ws.Demand))
        {
            var (node, quantity) = d;
            if (node.Headroom is { } headroom && headroom < quantity)
            {
                (shortNode, requested, left) = (node, quantity, headroom);
                break;
            }
        }

        if (shortNode is not null)
        {
            return Short(ws, c.Items, shortNode, requested, left);
        }

        return Place(ws, c, first!, priced, now);
    }

    /// <summary>
    /// Places a hold that passed every check. A method of its own, so that the checks' frame does not
    /// carry the structs that placing needs (see <see cref="Answers"/> for why frames matter).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome Place(WorkingSet ws, PlaceHold c, CapacityNode first, bool priced, DateTimeOffset now)
    {
        var single = c.Items.Length == 1;
        var items = priced ? LockPrices(ws, c.Items, now)
            : single ? first.PlainItems(c.Items[0].Quantity)
            : Unpriced(c.Items);
        // Whole minutes in ticks: the same instant as AddMinutes, without its floating-point path.
        var expiresAt = now.AddTicks(c.Minutes * TimeSpan.TicksPerMinute);
        var reservation = new Reservation(c.ReservationId, c.TenantId, ReservationStatus.Active, items, now, expiresAt, null, null);
        ApplyDemand(ws, reservation.Id, LedgerKind.Hold, reservedSign: 1, soldSign: 0, now);
        ws.AddNew(reservation);
        // The answer shows the first item's capacity as it is now. With one item, SumDemand left that
        // item's closure in ws.Closure, and the counters changed in place, so it need not be walked again.
        return single ? Answers.Held(reservation, Graph.ViewOf(first, ws.Closure)) : Answers.Held(reservation, Graph.View(first, ws, ws.Closure));
    }

    private static ReservationItem[] Unpriced(HoldItem[] holdItems)
    {
        var items = new ReservationItem[holdItems.Length];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = new ReservationItem(holdItems[i].CapacityId, holdItems[i].Quantity, null);
        }

        return items;
    }

    /// <summary>The items of a hold with a price lock: each priced item snapshots its price as it is now.</summary>
    private static ReservationItem[] LockPrices(WorkingSet ws, HoldItem[] holdItems, DateTimeOffset now)
    {
        var items = new ReservationItem[holdItems.Length];
        for (var i = 0; i < holdItems.Length; i++)
        {
            var item = holdItems[i];
            LockedPrice? locked = null;
            if (item.PricingId is { } pricingId)
            {
                var price = ws.FindPrice(pricingId)!;
                locked = new LockedPrice(price.Id, price.Name, price.UnitPrice, price.ServiceFee, price.FacilityFee, price.TaxRate, price.Currency, now);
            }

            items[i] = new ReservationItem(item.CapacityId, item.Quantity, locked);
        }

        return items;
    }

    private static Outcome Transit(WorkingSet ws, TransitionReservation c, DateTimeOffset now)
    {
        ref var slot = ref ws.SlotOf(c.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != c.TenantId)
        {
            return Answers.ReservationNotFound(c.ReservationId);
        }

        // The hold is read and rewritten in its slot, never copied out: each state below is the
        // slot's current one, the expiry included.
        ref readonly var r = ref slot.Value;

        // A due hold is expired now, whether or not the sweeper got to it: it can never be confirmed.
        if (r.Status == ReservationStatus.Active && now >= r.ExpiresAt)
        {
            ExpireNow(ws, ref slot, now);
        }

        switch (c.Transition, r.Status)
        {
            case (Transition.Confirm, ReservationStatus.Active):
                SumDemand(ws, r.Items, out _);
                ApplyDemand(ws, r.Id, LedgerKind.Confirm, reservedSign: -1, soldSign: 1, now);
                ws.Replace(ref slot, r with { Status = ReservationStatus.Confirmed, ConfirmedAt = now });
                break;
            case (Transition.Release, ReservationStatus.Active):
                SumDemand(ws, r.Items, out _);
                ApplyDemand(ws, r.Id, LedgerKind.Release, reservedSign: -1, soldSign: 0, now);
                ws.Replace(ref slot, r with { Status = ReservationStatus.Released, EndedAt = now });
                break;
            case (Transition.Cancel, ReservationStatus.Confirmed):
                SumDemand(ws, r.Items, out _);
                ApplyDemand(ws, r.Id, LedgerKind.Cancel, reservedSign: 0, soldSign: -1, now);
                ws.Replace(ref slot, r with { Status = ReservationStatus.Cancelled, EndedAt = now });
                break;
            case (Transition.Confirm, ReservationStatus.Confirmed):
            case (Transition.Release, ReservationStatus.Released):
                return Answers.Of(OutcomeCode.Unchanged, r);
            case (_, ReservationStatus.Expired):
                return Answers.Expired(r);
            case (Transition.Cancel, ReservationStatus.Active):
                return Answers.CancelNotConfirmed(r);
            default:
                return Answers.NotActive(r);
        }

        return Answers.Of(OutcomeCode.Ok, r);
    }

    private static Outcome Extend(WorkingSet ws, ExtendReservation c, DateTimeOffset now, CoreLimits limits)
    {
        if (c.Minutes < 1 || c.Minutes > limits.MaxHoldMinutes)
        {
            return Answers.ExtendMinutes(limits);
        }

        ref var slot = ref ws.SlotOf(c.ReservationId);
        if (Unsafe.IsNullRef(ref slot) || slot.Value.TenantId != c.TenantId)
        {
            return Answers.ReservationNotFound(c.ReservationId);
        }

        var r = slot.Value;
        if (r.Status == ReservationStatus.Active && now >= r.ExpiresAt)
        {
            r = ExpireNow(ws, ref slot, now);
        }

        if (r.Status == ReservationStatus.Expired)
        {
            return Answers.Expired(r);
        }

        if (r.Status != ReservationStatus.Active)
        {
            return Answers.NotActive(r);
        }

        var expiresAt = now.AddMinutes(c.Minutes);
        var latest = r.CreatedAt.AddMinutes(limits.MaxLifetimeMinutes);
        if (expiresAt > latest)
        {
            return Answers.ExtensionLimit(r, limits, latest);
        }

        r = r with { ExpiresAt = expiresAt };
        ws.Replace(ref slot, r);
        return Answers.Of(OutcomeCode.Ok, r);
    }

    private static Outcome Expire(WorkingSet ws, ExpireDue c, DateTimeOffset now)
    {
        var count = 0;
        foreach (var id in c.ReservationIds)
        {
            ref var slot = ref ws.SlotOf(id);
            if (!Unsafe.IsNullRef(ref slot) && slot.Value.Status == ReservationStatus.Active && now >= slot.Value.ExpiresAt)
            {
                ExpireNow(ws, ref slot, now);
                count++;
            }
        }

        return new Outcome(OutcomeCode.Ok) { Count = count };
    }

    private static Reservation ExpireNow(WorkingSet ws, ref ReservationSlot slot, DateTimeOffset now)
    {
        SumDemand(ws, slot.Value.Items, out _);
        ApplyDemand(ws, slot.Value.Id, LedgerKind.Expire, reservedSign: -1, soldSign: 0, now);
        var expired = slot.Value with { Status = ReservationStatus.Expired, EndedAt = now };
        ws.Replace(ref slot, expired);
        return expired;
    }

    /// <summary>
    /// Sums what the items take from each node into <see cref="WorkingSet.Demand"/>: an item charges its
    /// capacity and every ancestor once; two items reaching one pool both charge it. Fails on the first
    /// inactive node met. Nodes are compared by reference: the working set holds one instance per row.
    /// </summary>
    private static bool SumDemand<T>(WorkingSet ws, T[] items, out CapacityNode? inactive, CapacityNode? firstNode = null)
        where T : struct, IDemand
    {
        var demand = ws.Demand;
        demand.Clear();
        inactive = null;
        for (var i = 0; i < items.Length; i++)
        {
            var item = items[i];
            // A hold has already found its first item's node; a stored hold's items are looked up.
            var node = (i == 0 ? firstNode : null) ?? ws.FindCapacity(item.CapacityId)
                ?? throw new InvalidOperationException($"Capacity {item.CapacityId} of a reservation was not loaded.");
            Graph.Closure(node, ws, ws.Closure);
            foreach (var n in ws.Closure)
            {
                if (!n.IsActive && inactive is null)
                {
                    inactive = n;
                }

                Charge(demand, n, item.Quantity);
            }
        }

        return inactive is null;
    }

    private static void Charge(List<(CapacityNode Node, long Quantity)> demand, CapacityNode node, long quantity)
    {
        foreach (ref var d in CollectionsMarshal.AsSpan(demand))
        {
            if (ReferenceEquals(d.Node, node))
            {
                d.Quantity += quantity;
                return;
            }
        }

        demand.Add((node, quantity));
    }

    private static void ApplyDemand(WorkingSet ws, Guid reservationId, LedgerKind kind, int reservedSign, int soldSign, DateTimeOffset now)
    {
        // Over the list's storage, not its enumerator: the enumerator and its copies of each entry are
        // temporaries in the frame of every method this is inlined into.
        foreach (ref readonly var d in CollectionsMarshal.AsSpan(ws.Demand))
        {
            var (node, quantity) = d;
            node.Reserved += reservedSign * quantity;
            node.Sold += soldSign * quantity;
            if (node.Reserved < 0 || node.Sold < 0)
            {
                // Only a corrupted store can get here; refusing keeps the corruption out of the ledger.
                throw new InvalidOperationException($"Counters of capacity {node.Id} would go negative.");
            }

            ws.Touch(node);
            ws.Append(node, kind, reservationId, reservedSign * quantity, soldSign * quantity, now);
        }
    }

    /// <summary>The refusal of a hold that does not fit, with the availability of the first item that draws from the short node.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome Short(WorkingSet ws, HoldItem[] items, CapacityNode shortNode, long requested, long left)
    {
        var drawing = FirstItemDrawingFrom(ws, items, shortNode);
        return Answers.Short(shortNode, requested, left, Graph.Available(drawing, ws, ws.Closure));
    }

    private static CapacityNode FirstItemDrawingFrom(WorkingSet ws, HoldItem[] items, CapacityNode shortNode)
    {
        foreach (var item in items)
        {
            var node = ws.FindCapacity(item.CapacityId)!;
            Graph.Closure(node, ws, ws.Closure);
            if (ws.Closure.Contains(shortNode))
            {
                return node;
            }
        }

        throw new InvalidOperationException("No item draws from the short node.");
    }

    private static Outcome Create(WorkingSet ws, CreateCapacity c, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidEventId(c.EventId))
        {
            return Outcome.Invalid("event_id", "event_id must be 1 to 64 letters, digits, '.', '_', ':' or '-'.");
        }

        if (c.ScheduleId is not null && !Rules.IsValidEventId(c.ScheduleId))
        {
            return Outcome.Invalid("schedule_id", "schedule_id must be 1 to 64 letters, digits, '.', '_', ':' or '-'.");
        }

        if (CheckShape(c.SectionName, c.SectionCode, c.Total, limits) is { } shape)
        {
            return shape;
        }

        if (c.ParentIds.Length > limits.MaxParents)
        {
            return Outcome.Invalid("parent_ids", $"A capacity has at most {limits.MaxParents} parents.");
        }

        var mode = (c.Total is null, c.ParentIds.Length == 0) switch
        {
            (false, true) => CapacityMode.Own,
            (false, false) => CapacityMode.Capped,
            (true, false) => CapacityMode.Shared,
            (true, true) => CapacityMode.Unlimited,
        };
        if (c.Mode is { } asked && asked != mode)
        {
            return Outcome.Invalid("mode", $"mode '{asked.ToString().ToLowerInvariant()}' disagrees with the other fields, which describe '{mode.ToString().ToLowerInvariant()}'. "
                + "own: limited, no parents; capped: limited, with parents; shared: unlimited, with parents; unlimited: unlimited, no parents.");
        }

        if (ws.HasCapacity(c.Id))
        {
            return Outcome.Invalid("id", $"Capacity {c.Id} already exists.");
        }

        for (var i = 0; i < c.ParentIds.Length; i++)
        {
            var parent = ws.FindCapacity(c.ParentIds[i]);
            if (parent is null || parent.TenantId != c.TenantId)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {c.ParentIds[i]} does not exist.");
            }

            if (Array.IndexOf(c.ParentIds, c.ParentIds[i]) != i)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {c.ParentIds[i]} is named twice.");
            }
        }

        var node = new CapacityNode
        {
            Id = c.Id,
            TenantId = c.TenantId,
            EventId = c.EventId,
            ScheduleId = c.ScheduleId,
            SectionName = c.SectionName,
            SectionCode = c.SectionCode,
            Total = c.Total,
            // A copy: the graph must not change if the caller reuses its array.
            ParentIds = [.. c.ParentIds],
            IsActive = c.IsActive,
            CreatedAt = now,
            UpdatedAt = now,
        };

        // Parents exist before their children and never change, so a new node cannot close a cycle;
        // depth is the only graph rule left to check.
        if (Graph.Depth(node, ws) > limits.MaxDepth)
        {
            return Outcome.Invalid("parent_ids", $"Capacities nest at most {limits.MaxDepth} levels deep.");
        }

        ws.AddNew(node);
        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, ws, ws.Closure) };
    }

    private static Outcome Update(WorkingSet ws, UpdateCapacity c, DateTimeOffset now, CoreLimits limits)
    {
        var node = ws.FindCapacity(c.Id);
        if (node is null || node.TenantId != c.TenantId)
        {
            return Outcome.NotFound($"Capacity {c.Id} was not found.");
        }

        var name = c.SectionName.Or(node.SectionName);
        var code = c.SectionCode.Or(node.SectionCode);
        var total = c.Total.Or(node.Total);
        if (CheckShape(name, code, total, limits) is { } shape)
        {
            return shape;
        }

        var committed = node.Reserved + node.Sold;
        if (total is { } t && t < committed)
        {
            return new Outcome(OutcomeCode.BelowCommitted, $"total_capacity {t} is below the {committed} tickets already held or sold ({node.Reserved} reserved, {node.Sold} sold).", "total_capacity");
        }

        node.SectionName = name;
        node.SectionCode = code;
        node.Total = total;
        node.IsActive = c.IsActive.Or(node.IsActive);
        node.UpdatedAt = now;
        ws.Touch(node);
        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, ws, ws.Closure) };
    }

    private static Outcome? CheckShape(string name, string? code, int? total, CoreLimits limits)
    {
        if (!Rules.IsValidName(name, limits.MaxNameLength))
        {
            return Outcome.Invalid("section_name", $"section_name must be 1 to {limits.MaxNameLength} characters, not blank.");
        }

        if (code is not null && !Rules.IsValidName(code, limits.MaxCodeLength))
        {
            return Outcome.Invalid("section_code", $"section_code must be 1 to {limits.MaxCodeLength} characters, not blank.");
        }

        if (total is < 0 || total > limits.MaxTotalCapacity)
        {
            return Outcome.Invalid("total_capacity", $"total_capacity must be between 0 and {limits.MaxTotalCapacity}, or null for unlimited.");
        }

        return null;
    }

    private static Outcome CreatePricing(WorkingSet ws, CreatePrice c, DateTimeOffset now, CoreLimits limits)
    {
        var node = ws.FindCapacity(c.CapacityId);
        if (node is null || node.TenantId != c.TenantId)
        {
            return Outcome.NotFound($"Capacity {c.CapacityId} was not found.");
        }

        var price = new PriceEntry(c.Id, c.TenantId, c.CapacityId, c.Name, c.BasePrice, c.CurrentPrice, c.ServiceFee, c.FacilityFee, c.TaxRate, c.Currency, now, now);
        if (CheckPrice(price, limits) is { } invalid)
        {
            return invalid;
        }

        if (ws.FindPrice(c.Id) is not null)
        {
            return Outcome.Invalid("id", $"Pricing {c.Id} already exists.");
        }

        ws.AddNew(price);
        return new Outcome(OutcomeCode.Ok) { Price = price };
    }

    private static Outcome UpdatePricing(WorkingSet ws, UpdatePrice c, DateTimeOffset now, CoreLimits limits)
    {
        var current = ws.FindPrice(c.Id);
        if (current is null || current.TenantId != c.TenantId)
        {
            return Outcome.NotFound($"Pricing {c.Id} was not found.");
        }

        var price = current with
        {
            Name = c.Name.Or(current.Name),
            BasePrice = c.BasePrice.Or(current.BasePrice),
            CurrentPrice = c.CurrentPrice.Or(current.CurrentPrice),
            ServiceFee = c.ServiceFee.Or(current.ServiceFee),
            FacilityFee = c.FacilityFee.Or(current.FacilityFee),
            TaxRate = c.TaxRate.Or(current.TaxRate),
            Currency = c.Currency.Or(current.Currency),
            UpdatedAt = now,
        };
        if (CheckPrice(price, limits) is { } invalid)
        {
            return invalid;
        }

        ws.Replace(price);
        return new Outcome(OutcomeCode.Ok) { Price = price };
    }

    private static Outcome? CheckPrice(PriceEntry p, CoreLimits limits)
    {
        if (!Rules.IsValidName(p.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", $"name must be 1 to {limits.MaxNameLength} characters, not blank.");
        }

        if (!Rules.IsValidMoney(p.BasePrice, limits.MaxPrice))
        {
            return Outcome.Invalid("base_price", $"base_price must be between 0 and {limits.MaxPrice} with at most 4 decimals.");
        }

        if (p.CurrentPrice is { } cp && !Rules.IsValidMoney(cp, limits.MaxPrice))
        {
            return Outcome.Invalid("current_price", $"current_price must be between 0 and {limits.MaxPrice} with at most 4 decimals, or null.");
        }

        if (!Rules.IsValidMoney(p.ServiceFee, limits.MaxPrice))
        {
            return Outcome.Invalid("service_fee", $"service_fee must be between 0 and {limits.MaxPrice} with at most 4 decimals.");
        }

        if (!Rules.IsValidMoney(p.FacilityFee, limits.MaxPrice))
        {
            return Outcome.Invalid("facility_fee", $"facility_fee must be between 0 and {limits.MaxPrice} with at most 4 decimals.");
        }

        if (!Rules.IsValidTaxRate(p.TaxRate))
        {
            return Outcome.Invalid("tax_rate", "tax_rate must be between 0 and 1 with at most 6 decimals.");
        }

        if (!Rules.IsValidCurrency(p.Currency))
        {
            return Outcome.Invalid("currency", "currency must be an ISO 4217 code such as EUR or USD.");
        }

        return null;
    }

    private static Outcome NewTenant(WorkingSet ws, CreateTenant c, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidName(c.Name, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", $"name must be 1 to {limits.MaxNameLength} characters, not blank.");
        }

        var tenant = new Tenant(c.Id, c.Name, now);
        ws.AddNew(tenant);
        ws.AddNew(new ApiKey(c.KeyHash, c.Id, now));
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant };
    }

    private static Outcome NewKey(WorkingSet ws, AddApiKey c, DateTimeOffset now)
    {
        var tenant = ws.FindTenant(c.TenantId);
        if (tenant is null)
        {
            return Outcome.NotFound($"Tenant {c.TenantId} was not found.");
        }

        ws.AddNew(new ApiKey(c.KeyHash, c.TenantId, now));
        return new Outcome(OutcomeCode.Ok) { Tenant = tenant };
    }
}

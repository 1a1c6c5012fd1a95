using System.Runtime.CompilerServices;

namespace Capacity.Core;

// Per-buyer limits. The commands are cold and written plainly; the hold path's part (checking a
// keyed hold against every limit over its capacities, and keeping each buyer's usage) is here too,
// and a hold that names no buyer on capacities no limit covers never comes here.
public static partial class Decider
{
    private static Outcome CreateBuyerLimit(WorkingSet set, CreateBuyerLimit command, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidEventId(command.EventId))
        {
            return Outcome.Invalid("event_id", $"event_id {Rules.EventIdRule}");
        }

        if (CheckLimitShape(command.Name, command.PerBuyerMax, null, limits) is { } shape)
        {
            return shape;
        }

        if (command.CapacityIds.Length == 0 || command.CapacityIds.Length > limits.MaxLimitCapacities)
        {
            return Outcome.Invalid("capacity_ids", $"A limit covers 1 to {limits.MaxLimitCapacities} capacities.");
        }

        for (var i = 0; i < command.CapacityIds.Length; i++)
        {
            var id = command.CapacityIds[i];
            var node = set.FindCapacity(id);
            if (node is null || node.TenantId != command.TenantId)
            {
                return Outcome.Invalid($"capacity_ids[{i}]", $"Capacity {id} does not exist.");
            }

            if (!string.Equals(node.EventId, command.EventId, StringComparison.Ordinal))
            {
                return Outcome.Invalid($"capacity_ids[{i}]", $"Capacity {id} belongs to event {node.EventId}, not {command.EventId}.");
            }

            if (Array.IndexOf(command.CapacityIds, id) != i)
            {
                return Outcome.Invalid($"capacity_ids[{i}]", $"Capacity {id} is named twice.");
            }
        }

        if (set.FindLimit(command.Id) is not null)
        {
            return Outcome.Invalid("id", $"Buyer limit {command.Id} already exists.");
        }

        var limit = new BuyerLimit
        {
            Id = command.Id,
            TenantId = command.TenantId,
            EventId = command.EventId,
            Name = command.Name,
            CapacityIds = [.. command.CapacityIds],
            PerBuyerMax = command.PerBuyerMax,
            RequireBuyerKey = command.RequireBuyerKey,
            CreatedAt = now,
            UpdatedAt = now,
        };
        set.AddNew(limit);
        foreach (var id in limit.CapacityIds)
        {
            var node = set.FindCapacity(id)!;
            node.LimitIds = [.. node.LimitIds, limit.Id];
            set.Touch(node);
        }

        return new Outcome(OutcomeCode.Ok) { Limit = BuyerLimitView.Of(limit) };
    }

    private static Outcome UpdateBuyerLimit(WorkingSet set, UpdateBuyerLimit command, DateTimeOffset now, CoreLimits limits)
    {
        var limit = set.FindLimit(command.Id);
        if (limit is null || limit.Deleted || limit.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Buyer limit {command.Id} was not found.");
        }

        var name = command.Name.Or(limit.Name);
        var max = command.PerBuyerMax.Or(limit.PerBuyerMax);
        var require = command.RequireBuyerKey.Or(limit.RequireBuyerKey);
        if (CheckLimitShape(name, max, limit.Name, limits) is { } shape)
        {
            return shape;
        }

        // Lowering the maximum below what a buyer already has refuses that buyer's next holds; it
        // never cancels anything they hold or bought.
        if (name == limit.Name && max == limit.PerBuyerMax && require == limit.RequireBuyerKey)
        {
            return new Outcome(OutcomeCode.Unchanged) { Limit = BuyerLimitView.Of(limit) };
        }

        (limit.Name, limit.PerBuyerMax, limit.RequireBuyerKey, limit.UpdatedAt) = (name, max, require, now);
        set.Touch(limit);
        NoteLimitEased(set, limit.TenantId, limit.EventId);
        return new Outcome(OutcomeCode.Ok) { Limit = BuyerLimitView.Of(limit) };
    }

    private static Outcome DeleteBuyerLimit(WorkingSet set, DeleteBuyerLimit command)
    {
        var limit = set.FindLimit(command.Id);
        if (limit is null || limit.Deleted || limit.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Buyer limit {command.Id} was not found.");
        }

        limit.Deleted = true;
        set.Touch(limit);
        foreach (var id in limit.CapacityIds)
        {
            var node = set.FindCapacity(id) ?? throw new MissingRowException($"Capacity {id} of buyer limit {limit.Id} was not loaded.");
            node.LimitIds = Array.FindAll(node.LimitIds, other => other != limit.Id);
            set.Touch(node);
        }

        NoteLimitEased(set, limit.TenantId, limit.EventId);

        return new Outcome(OutcomeCode.Ok) { Limit = BuyerLimitView.Of(limit) };
    }

    // storedName: the limit's name as stored, for an update; not judged again.
    private static Outcome? CheckLimitShape(string name, int perBuyerMax, string? storedName, CoreLimits limits)
    {
        if (!Rules.IsValidNameChange(name, storedName, limits.MaxNameLength))
        {
            return Outcome.Invalid("name", Rules.NameRule("name", limits.MaxNameLength, name));
        }

        return perBuyerMax < 1 || perBuyerMax > limits.MaxTotalCapacity
            ? Outcome.Invalid("per_buyer_max", $"per_buyer_max must be between 1 and {limits.MaxTotalCapacity}.")
            : null;
    }

    /// <summary>
    /// Checks a hold against every limit over any of its items' capacities, each once: a limit that
    /// requires a buyer key refuses a hold without one; a keyed hold is refused when it would take its
    /// buyer past a limit's maximum, counting the buyer's usage on all the limit's capacities (active
    /// holds, sales and the units its entries still wait for, earlier commands of this batch included),
    /// less what a change gives back in the same command (<paramref name="givenBack"/>; an offer gives
    /// back the units its entry waited for). With <paramref name="keepsWithin"/> (a change of a hold), a
    /// limit never refuses what takes no more under it than it gives back: a buyer past a limit lowered
    /// since may still move tickets between its sections, as lowering it refuses only their next holds.
    /// Null when the hold passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Outcome? CheckBuyerLimits<T>(WorkingSet set, T[] items, string? buyerKey, T[]? givenBack = null, bool keepsWithin = false)
        where T : struct, IDemand
    {
        for (var i = 0; i < items.Length; i++)
        {
            var node = set.FindCapacity(items[i].CapacityId)!;
            foreach (var limitId in node.LimitIds)
            {
                if (CoveredByEarlierItem(set, items, i, limitId))
                {
                    continue;
                }

                var limit = set.FindLimit(limitId) ?? throw new MissingRowException($"Buyer limit {limitId} of capacity {node.Id} was not loaded.");
                if (buyerKey is null)
                {
                    if (limit.RequireBuyerKey)
                    {
                        return new Outcome(OutcomeCode.BuyerKeyRequired, $"Buyer limit {limit.Id} ({limit.Name}) requires a buyer_key on holds of capacity {node.Id}.", "buyer_key")
                        {
                            Limit = BuyerLimitView.Of(limit),
                        };
                    }

                    continue;
                }

                long used = 0, requested = 0, returned = 0;
                foreach (var capacityId in limit.CapacityIds)
                {
                    used += set.UsageOf(capacityId, buyerKey);
                }

                foreach (var back in givenBack ?? [])
                {
                    if (Array.IndexOf(limit.CapacityIds, back.CapacityId) >= 0)
                    {
                        returned += back.Quantity;
                    }
                }

                used -= returned;

                foreach (var item in items)
                {
                    if (Array.IndexOf(limit.CapacityIds, item.CapacityId) >= 0)
                    {
                        requested += item.Quantity;
                    }
                }

                if (used + requested > limit.PerBuyerMax && !(keepsWithin && requested <= returned))
                {
                    return new Outcome(OutcomeCode.BuyerLimitExceeded, LimitExcessDetail(set, limit, buyerKey, used, requested))
                    {
                        Limit = BuyerLimitView.Of(limit),
                        LimitExcess = new BuyerLimitExcess(limit.Id, used, requested, limit.PerBuyerMax),
                    };
                }
            }
        }

        return null;
    }

    /// <summary>
    /// What a refusal says the buyer has. Where the batch loaded the event's waiting list (a join, or a
    /// hold in a batch that frees units), it says how much of that the buyer is waiting for; counted only
    /// on a refusal, so a hold pays nothing for it.
    /// </summary>
    private static string LimitExcessDetail(WorkingSet set, BuyerLimit limit, string buyerKey, long used, long requested)
    {
        if (set.QueueOf(limit.TenantId, limit.EventId) is not { } queue)
        {
            return $"Buyer limit {limit.Name} allows {limit.PerBuyerMax} tickets per buyer; this buyer has {used} (in active holds, sales and waiting-list entries) and asks for {requested}.";
        }

        long waiting = 0;
        foreach (var entry in queue)
        {
            if (entry.Status != WaitlistStatus.Waiting || !string.Equals(entry.BuyerKey, buyerKey, StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var item in entry.Items)
            {
                if (Array.IndexOf(limit.CapacityIds, item.CapacityId) >= 0)
                {
                    waiting += item.Quantity;
                }
            }
        }

        return waiting == 0
            ? $"Buyer limit {limit.Name} allows {limit.PerBuyerMax} tickets per buyer; this buyer has {used} and asks for {requested}."
            : $"Buyer limit {limit.Name} allows {limit.PerBuyerMax} tickets per buyer; this buyer has {used}, {waiting} of them waited for on waiting lists, and asks for {requested}.";
    }

    private static bool CoveredByEarlierItem<T>(WorkingSet set, T[] items, int index, Guid limitId)
        where T : struct, IDemand
    {
        for (var j = 0; j < index; j++)
        {
            if (Array.IndexOf(set.FindCapacity(items[j].CapacityId)!.LimitIds, limitId) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a hold must pass <see cref="CheckBuyerLimits"/>: it names a buyer, or a limit covers one of its capacities.</summary>
    private static bool MeetsLimits<T>(WorkingSet set, T[] items, string? buyerKey)
        where T : struct, IDemand
    {
        if (buyerKey is not null)
        {
            return true;
        }

        foreach (var item in items)
        {
            if (set.FindCapacity(item.CapacityId)!.LimitIds.Length > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A keyed hold's tickets added to (sign 1) or taken from (sign -1) its buyer's usage on each item's
    /// capacity. Less usage under a limit may let an entry of that buyer that its limit held back be offered.
    /// </summary>
    private static void CountUsage(WorkingSet set, in Reservation hold, int sign)
    {
        foreach (var item in hold.Items)
        {
            set.AddUsage(hold.TenantId, item.CapacityId, hold.BuyerKey!, sign * item.Quantity);
            if (sign < 0 && set.FindCapacity(item.CapacityId) is { LimitIds.Length: > 0 } node)
            {
                NoteLimitEased(set, node.TenantId, node.EventId);
            }
        }
    }

    /// <summary>
    /// A limit was raised or deleted, or a buyer's usage under one fell: an entry its buyer's limit held
    /// back may fit now. The batch loaded the event's waiting list if it has one (LoadKeys.QueueEvents).
    /// </summary>
    private static void NoteLimitEased(WorkingSet set, Guid tenantId, string eventId)
    {
        if (set.QueueOf(tenantId, eventId) is { Count: > 0 })
        {
            set.Unsettled.Add((tenantId, eventId));
        }
    }
}

namespace Capacity.Core;

public static partial class Decider
{
    private static Outcome CreateCapacity(WorkingSet set, CreateCapacity command, DateTimeOffset now, CoreLimits limits)
    {
        if (!Rules.IsValidEventId(command.EventId))
        {
            return Outcome.Invalid("event_id", $"event_id {Rules.EventIdRule}");
        }

        if (command.ScheduleId is not null && !Rules.IsValidEventId(command.ScheduleId))
        {
            return Outcome.Invalid("schedule_id", $"schedule_id {Rules.EventIdRule}");
        }

        if (CheckShape(command.SectionName, command.SectionCode, command.Total, limits) is { } shape)
        {
            return shape;
        }

        if (command.ParentIds.Length > limits.MaxParents)
        {
            return Outcome.Invalid("parent_ids", $"A capacity has at most {limits.MaxParents} parents.");
        }

        var mode = CapacityNode.ModeOf(command.Total, command.ParentIds);
        if (command.Mode is { } asked && asked != mode)
        {
            return ModeDisagrees(asked, mode);
        }

        if (set.HasCapacity(command.Id))
        {
            return Outcome.Invalid("id", $"Capacity {command.Id} already exists.");
        }

        if (CheckParents(set, command) is { } parents)
        {
            return parents;
        }

        var node = new CapacityNode
        {
            Id = command.Id,
            TenantId = command.TenantId,
            EventId = command.EventId,
            ScheduleId = command.ScheduleId,
            SectionName = command.SectionName,
            SectionCode = command.SectionCode,
            Total = command.Total,
            // A copy: the graph must not change if the caller reuses its array.
            ParentIds = [.. command.ParentIds],
            IsActive = command.IsActive,
            CreatedAt = now,
            UpdatedAt = now,
        };

        // Parents exist before their children and never change, so a new node cannot close a cycle;
        // depth is the only graph rule left to check.
        if (Graph.Depth(node, set) > limits.MaxDepth)
        {
            return Outcome.Invalid("parent_ids", $"Capacities nest at most {limits.MaxDepth} levels deep.");
        }

        set.AddNew(node);
        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, set, set.Closure) };
    }

    private static Outcome ModeDisagrees(CapacityMode asked, CapacityMode described) =>
        Outcome.Invalid("mode", $"mode '{asked.ToString().ToLowerInvariant()}' disagrees with the other fields, which describe '{described.ToString().ToLowerInvariant()}'. "
            + "own: limited, no parents; capped: limited, with parents; shared: unlimited, with parents; unlimited: unlimited, no parents.");

    /// <summary>Each parent exists, belongs to the tenant and is named once.</summary>
    private static Outcome? CheckParents(WorkingSet set, CreateCapacity command)
    {
        var parentIds = command.ParentIds;
        for (var i = 0; i < parentIds.Length; i++)
        {
            var parent = set.FindCapacity(parentIds[i]);
            if (parent is null || parent.TenantId != command.TenantId)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {parentIds[i]} does not exist.");
            }

            if (Array.IndexOf(parentIds, parentIds[i]) != i)
            {
                return Outcome.Invalid($"parent_ids[{i}]", $"Capacity {parentIds[i]} is named twice.");
            }
        }

        return null;
    }

    private static CapacityNode? OtherEventAbove(WorkingSet set, CapacityNode node)
    {
        Graph.Closure(node, set, set.Closure);
        foreach (var reached in set.Closure)
        {
            if (!string.Equals(reached.EventId, node.EventId, StringComparison.Ordinal))
            {
                return reached;
            }
        }

        return null;
    }

    private static Outcome UpdateCapacity(WorkingSet set, UpdateCapacity command, DateTimeOffset now, CoreLimits limits)
    {
        var node = set.FindCapacity(command.Id);
        if (node is null || node.TenantId != command.TenantId)
        {
            return Outcome.NotFound($"Capacity {command.Id} was not found.");
        }

        var name = command.SectionName.Or(node.SectionName);
        var code = command.SectionCode.Or(node.SectionCode);
        var total = command.Total.Or(node.Total);
        if (CheckShape(name, code, total, limits) is { } shape)
        {
            return shape;
        }

        var waitlist = command.Waitlist is { } patch ? patch.Apply(node.Waitlist, limits) : node.Waitlist;
        if (waitlist is not null && (waitlist.OfferMinutes < 1 || waitlist.OfferMinutes > limits.MaxOfferMinutes))
        {
            return Outcome.Invalid("waitlist.offer_minutes", $"offer_minutes must be between 1 and {limits.MaxOfferMinutes}.");
        }

        // Units freed on a pool wake the waiting list of the pool's own event; a list on a capacity that
        // draws from another event's pool would be owed units there that no one would know to offer.
        if (waitlist is { Enabled: true } && command.Waitlist is not null && OtherEventAbove(set, node) is { } foreign)
        {
            return Outcome.Invalid(
                "waitlist", $"A waiting list needs every pool its capacity draws from in the same event; {foreign.SectionName} ({foreign.Id}) is in event {foreign.EventId}.");
        }

        var committed = node.Reserved + node.Sold;
        if (total is { } newTotal && newTotal < committed)
        {
            return new Outcome(OutcomeCode.BelowCommitted, $"total_capacity {newTotal} is below the {committed} tickets already held or sold ({node.Reserved} reserved, {node.Sold} sold).", "total_capacity");
        }

        node.SectionName = name;
        node.SectionCode = code;
        node.Total = total;
        node.IsActive = command.IsActive.Or(node.IsActive);
        node.Waitlist = waitlist;
        node.UpdatedAt = now;
        set.Touch(node);

        // A larger total, a reopened capacity or a changed policy may fit entries that waited.
        if (node.QueueDemand > 0)
        {
            set.Unsettled.Add((node.TenantId, node.EventId));
        }

        return new Outcome(OutcomeCode.Ok) { Capacity = Graph.View(node, set, set.Closure) };
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
}

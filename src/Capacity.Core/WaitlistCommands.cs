namespace Capacity.Core;

/// <summary>Joins the waiting lists of one event's capacities; offered at once when the units are there and nobody waits ahead.</summary>
public sealed record JoinWaitlist(Guid TenantId, Guid Id, WaitlistItem[] Items, string? BuyerKey, string? ExternalRef) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        foreach (var item in Items)
        {
            keys.Capacities.Add(item.CapacityId);
            keys.Queues.Add(item.CapacityId);
            // As for holds: an invalid key is refused by the decider and never sent to the store.
            if (Rules.IsValidBuyerKey(BuyerKey))
            {
                keys.Buyers.Add((item.CapacityId, BuyerKey!));
            }
        }

        keys.Waitlist.Add(Id);
    }
}

/// <summary>Leaves a waiting list; a live offer is released and its units go to the next in line.</summary>
public sealed record LeaveWaitlist(Guid TenantId, Guid Id) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Waitlist.Add(Id);

        // An offer's reservation has its entry's id: loading it (if there is one) lets leaving release it.
        keys.Reservations.Add(Id);
    }
}

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

/// <summary>
/// Offers whatever fits in the waiting list of the event that <paramref name="CapacityId"/> belongs to,
/// as a command that frees units does after it. A node submits one for each event with waiting entries
/// as it starts (<c>ExpirySweeper.SettleWaitingListsAsync</c>), so that entries a recount left fitting
/// (migration 021 owes fewer units) are offered then rather than at the event's next release.
/// </summary>
public sealed record SettleWaitlist(Guid CapacityId) : Command
{
    protected override void AddKeys(LoadKeys keys)
    {
        keys.Capacities.Add(CapacityId);
        keys.Queues.Add(CapacityId);
    }
}

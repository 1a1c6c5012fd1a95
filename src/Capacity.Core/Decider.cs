namespace Capacity.Core;

/// <summary>
/// The only place that decides. Each command is checked in full before anything is applied, so a
/// refused command leaves the working set exactly as it was (a cart is all-or-nothing). One file
/// per aggregate: holds (the hot path), capacities, allocations, buyer limits, prices and tenants.
/// </summary>
public static partial class Decider
{
    // A switch statement with a return per case: see the rules at the top of Decider.Holds.cs.
    public static Outcome Decide(WorkingSet set, Command command, DateTimeOffset now, CoreLimits limits)
    {
        set.Clock = now;
        switch (command)
        {
            case PlaceHold placeHold: return PlaceHold(set, placeHold, now, limits);
            case TransitionReservation transition: return TransitionReservation(set, transition, now);
            case ExtendReservation extend: return ExtendReservation(set, extend, now, limits);
            case ExpireDue expireDue: return ExpireDue(set, expireDue, now);
            case CreateCapacity createCapacity: return CreateCapacity(set, createCapacity, now, limits);
            case UpdateCapacity updateCapacity: return UpdateCapacity(set, updateCapacity, now, limits);
            case CreatePrice createPrice: return CreatePrice(set, createPrice, now, limits);
            case UpdatePrice updatePrice: return UpdatePrice(set, updatePrice, now, limits);
            case CreateTenant createTenant: return CreateTenant(set, createTenant, now, limits);
            case AddApiKey addApiKey: return AddApiKey(set, addApiKey, now, limits);
            case RevokeApiKey revoke: return RevokeApiKey(set, revoke, now);
            case SetTenantDisabled setDisabled: return SetTenantDisabled(set, setDisabled, now);
            case RecordKeyUse keyUse: return RecordKeyUse(set, keyUse);
            case CreateAllocation createAllocation: return CreateAllocation(set, createAllocation, now, limits);
            case UpdateAllocation updateAllocation: return UpdateAllocation(set, updateAllocation, now, limits);
            case ReleaseAllocation releaseAllocation: return ReleaseAllocation(set, releaseAllocation, now, limits);
            case CloseAllocation closeAllocation: return CloseAllocation(set, closeAllocation, now);
            case CloseDueAllocations closeDue: return CloseDueAllocations(set, closeDue, now);
            case CreateBuyerLimit createLimit: return CreateBuyerLimit(set, createLimit, now, limits);
            case UpdateBuyerLimit updateLimit: return UpdateBuyerLimit(set, updateLimit, now, limits);
            case DeleteBuyerLimit deleteLimit: return DeleteBuyerLimit(set, deleteLimit);
            case JoinWaitlist join: return JoinWaitlist(set, join, now, limits);
            case LeaveWaitlist leave: return LeaveWaitlist(set, leave, now);
            case ChangeHold change: return ChangeHold(set, change, now, limits);
            case ConfirmHold confirm: return ConfirmHold(set, confirm, now);
            case CancelSale cancel: return CancelSale(set, cancel, now);
            case PassSaleEdges edges: return PassSaleEdges(set, edges, now);
            case SettleWaitlist settle: return SettleWaitlist(set, settle);
            case CreateWebhook createWebhook: return CreateWebhook(set, createWebhook, now, limits);
            case UpdateWebhook updateWebhook: return UpdateWebhook(set, updateWebhook, now, limits);
            case DeleteWebhook deleteWebhook: return DeleteWebhook(set, deleteWebhook);
            case RotateWebhookSecret rotate: return RotateWebhookSecret(set, rotate, now);
            case RecordDeliveryAttempt attempt: return RecordDeliveryAttempt(set, attempt, now);
            case RetryDelivery retry: return RetryDelivery(set, retry, now);
            default: throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "Unknown command.");
        }
    }

    /// <summary>
    /// Offers freed units to waiting lists. The engine calls it after every command that left an
    /// event unsettled (<see cref="WorkingSet.HasUnsettled"/>): after the command, not inside it, so
    /// that no offer is made while a command still reads a hold in place, and before the next
    /// command, so that nothing can take units a waiting entry fits.
    /// </summary>
    public static void SettleWaitlists(WorkingSet set, DateTimeOffset now)
    {
        set.Clock = now;
        SettleUnsettled(set, now);
    }
}

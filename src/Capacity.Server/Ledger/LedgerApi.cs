using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Ledger;

/// <summary>
/// One counter change. <c>reservation_id</c> is null on the entries of an allocation itself (allocate,
/// deallocate); <c>allocation_id</c> is there only on entries that concern an allocation, <c>waitlist_id</c>
/// only on the entries of a waiting-list offer (it equals the reservation id: an offer is its entry's hold).
/// </summary>
internal sealed record LedgerEntryResponse(
    long Sequence,
    [property: OneOf(typeof(LedgerKind))] string Kind,
    Guid CapacityId,
    Guid? ReservationId,
    long ReservedDelta,
    long SoldDelta,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? AllocationId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? WaitlistId = null);

/// <summary>A page of entries; pass <c>next_after</c> as <c>after</c> for the next page (null when this one is the last so far).</summary>
internal sealed record LedgerPageResponse(string EventId, LedgerEntryResponse[] Entries, long? NextAfter);

/// <summary>The append-only record of every counter change of an event's capacities.</summary>
internal static class LedgerApi
{
    public static RouteGroupBuilder MapLedger(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Ledger");
        group.MapGet("/events/{eventId}/ledger", Page).HeavyRead().Doc(
            "Page through an event's ledger",
            "Every change to any counter of the event's capacities, in sequence order: kinds hold, confirm, release, expire, cancel, allocate, deallocate, reclaim, and open and close "
            + "(a tier opened, or a capacity closed by its sold-out rule; no counter moves). "
            + "Entries of an allocation carry `allocation_id`, entries of a waiting-list offer `waitlist_id`; allocate and deallocate entries have `reservation_id` null. "
            + "Each event numbers its own entries (`sequence`) 1, 2, 3… in commit order, with no gap. Pass `next_after` as `after` for the next page; `limit` 1..1000.",
            400);
        return group;
    }

    private static async Task<Results<JsonOk<LedgerPageResponse>, ProblemHttpResult>> Page(
        string eventId, string? after, string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        if (!Rules.IsValidEventId(eventId))
        {
            return ApiErrors.InvalidEventId();
        }

        if (Paging.TryRead(after, limit, options, out var page) is { } invalid)
        {
            return invalid;
        }

        var rows = await store.GetLedgerAsync(caller.TenantId, eventId, page.After, page.Limit, ct);
        var entries = rows.Select(r => new LedgerEntryResponse(
            r.Sequence, r.Entry.Kind.ApiName(), r.Entry.CapacityId, r.Entry.ReservationId == Guid.Empty ? null : r.Entry.ReservationId,
            r.Entry.ReservedDelta, r.Entry.SoldDelta, r.Entry.At, r.Entry.AllocationId, r.Entry.WaitlistId)).ToArray();
        return JsonResults.Ok(new LedgerPageResponse(eventId, entries, entries.Length == 0 ? null : page.Next(entries.Length, entries[^1].Sequence)));
    }
}

using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Echo;

internal static class Answers
{
    // A hold's answer is about 830 bytes and a capacity read about 440, as the server's are for the
    // load generator's pool; what is fixed there is fixed here.
    private const string EventId = "loadgen-onsale-20260101000000-000000";
    private static readonly Guid Parent = Guid.Parse("01a2430d-b32e-77fb-9d60-504792cf994b");
    private static readonly DateTimeOffset Created = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Results<Created<HoldAnswer>, BadRequest> Hold(Guid id, HoldRequest request)
    {
        if (request.Quantity < 1)
        {
            return TypedResults.BadRequest();
        }

        var now = DateTimeOffset.UtcNow;
        var reservation = new ReservationView(
            Guid.CreateVersion7(), "active", [new ItemView(id, request.Quantity, null)], [], now, now.AddMinutes(15), null, null);
        var answer = new HoldAnswer("Capacity reserved successfully", reservation, Capacity(id, now, request.Quantity), null);
        return TypedResults.Created($"/reservations/{reservation.Id}", answer);
    }

    public static Ok<CapacityView> Read(Guid id) => TypedResults.Ok(Capacity(id, DateTimeOffset.UtcNow, 0));

    private static CapacityView Capacity(Guid id, DateTimeOffset now, int reserved) => new(
        id, EventId, null, "Capped", null, "capped", 1_000_000, 1_000_000 - reserved, reserved, 0, true, [Parent], Created, now, "on_sale");
}

internal sealed record HoldRequest(int Quantity, int? ReservationMinutes, Guid? PricingId, Guid? AllocationId, string? BuyerKey, string? ExternalRef);

internal sealed record ItemView(Guid CapacityId, int Quantity, string? LockedPrice);

internal sealed record ReservationView(
    Guid Id, string Status, ItemView[] Items, string[] Totals, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? ConfirmedAt, DateTimeOffset? EndedAt);

internal sealed record CapacityView(
    Guid Id, string EventId, string? ScheduleId, string SectionName, string? SectionCode, string Mode, int? TotalCapacity, int? AvailableCapacity,
    int ReservedCapacity, int SoldCount, bool IsActive, Guid[] ParentIds, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string State);

internal sealed record HoldAnswer(string Message, ReservationView Reservation, CapacityView Capacity, string? LockedPrice);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HoldRequest))]
[JsonSerializable(typeof(HoldAnswer))]
[JsonSerializable(typeof(CapacityView))]
internal sealed partial class EchoJson : JsonSerializerContext;

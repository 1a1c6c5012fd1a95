using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>
/// Source-generated serialisation for every request and response, snake_case like the API.
/// Lenient on reading (fields a newer server adds are ignored); requests carry only the fields
/// the server knows, since it refuses unknown ones. For that reason the request fields that came
/// with allocations, per-buyer limits, waiting lists, labels and sale rules (<c>allocation_id</c>, <c>buyer_key</c>,
/// <c>waitlist</c>, <c>external_ref</c>, <c>metadata</c>, <c>sale_starts_at</c> and the other rules of a new
/// capacity) are left out when null: a request that uses none reads the same to a server that predates them.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CreateCapacityRequest))]
[JsonSerializable(typeof(UpdateCapacityRequest))]
[JsonSerializable(typeof(CapacityDetails))]
[JsonSerializable(typeof(CapacityList))]
[JsonSerializable(typeof(CapacityTotals))]
[JsonSerializable(typeof(CheckRequest))]
[JsonSerializable(typeof(CapacityCheck))]
[JsonSerializable(typeof(ReserveRequest))]
[JsonSerializable(typeof(ReserveResult))]
[JsonSerializable(typeof(CreateReservationRequest))]
[JsonSerializable(typeof(Reservation))]
[JsonSerializable(typeof(ExtendRequest))]
[JsonSerializable(typeof(ChangeReservationRequest))]
[JsonSerializable(typeof(ConfirmReservationRequest))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(ReservationPage))]
[JsonSerializable(typeof(CreatePricingRequest))]
[JsonSerializable(typeof(UpdatePricingRequest))]
[JsonSerializable(typeof(PricingDetails))]
[JsonSerializable(typeof(PricingList))]
[JsonSerializable(typeof(EventList))]
[JsonSerializable(typeof(EventSnapshot))]
[JsonSerializable(typeof(LedgerPage))]
[JsonSerializable(typeof(CreateAllocationRequest))]
[JsonSerializable(typeof(UpdateAllocationRequest))]
[JsonSerializable(typeof(ReleaseAllocationRequest))]
[JsonSerializable(typeof(AllocationDetails))]
[JsonSerializable(typeof(AllocationList))]
[JsonSerializable(typeof(CreateLimitRequest))]
[JsonSerializable(typeof(UpdateLimitRequest))]
[JsonSerializable(typeof(LimitDetails))]
[JsonSerializable(typeof(LimitList))]
[JsonSerializable(typeof(LimitUsage))]
[JsonSerializable(typeof(JoinWaitlistRequest))]
[JsonSerializable(typeof(WaitlistEntry))]
[JsonSerializable(typeof(WaitlistPage))]
[JsonSerializable(typeof(CreateTenantRequest))]
[JsonSerializable(typeof(TenantKey))]
[JsonSerializable(typeof(IssueKeyRequest))]
[JsonSerializable(typeof(ApiKeyInfo))]
[JsonSerializable(typeof(ApiKeyList))]
[JsonSerializable(typeof(TenantInfo))]
[JsonSerializable(typeof(VerifyReport))]
[JsonSerializable(typeof(HealthStatus))]
// The values inside Optional<T>, which its converter serialises through this context.
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(int?))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(Guid))]
[JsonSerializable(typeof(decimal))]
[JsonSerializable(typeof(decimal?))]
[JsonSerializable(typeof(DateTimeOffset?))]
[JsonSerializable(typeof(WaitlistPolicy))]
internal sealed partial class ClientJson : JsonSerializerContext;

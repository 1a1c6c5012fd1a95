using System.Text.Json;
using System.Text.Json.Serialization;
using Capacity.Server.Admin;
using Capacity.Server.Allocations;
using Capacity.Server.Capacities;
using Capacity.Server.Credentials;
using Capacity.Server.Docs;
using Capacity.Server.Events;
using Capacity.Server.Health;
using Capacity.Server.Http;
using Capacity.Server.Ledger;
using Capacity.Server.Limits;
using Capacity.Server.Pricing;
using Capacity.Server.Reservations;
using Capacity.Server.Stats;
using Capacity.Server.Views;
using Capacity.Server.Waitlists;
using Capacity.Server.Webhooks;

namespace Capacity.Server;

/// <summary>
/// Source-generated serialisation for every request and response: no reflection on the hot path.
/// Requests are strict: unknown fields, repeated fields, nulls where a value is required, and
/// numbers that do not fit are errors (400), not silently ignored.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(CreateCapacityRequest))]
[JsonSerializable(typeof(UpdateCapacityRequest))]
[JsonSerializable(typeof(UpdatePricingRequest))]
[JsonSerializable(typeof(CapacityResponse))]
[JsonSerializable(typeof(CapacityListResponse))]
[JsonSerializable(typeof(CapacityTotalsResponse))]
[JsonSerializable(typeof(CheckRequest))]
[JsonSerializable(typeof(CheckResponse))]
[JsonSerializable(typeof(ReserveRequest))]
[JsonSerializable(typeof(ReserveResponse))]
[JsonSerializable(typeof(CreateReservationRequest))]
[JsonSerializable(typeof(ReservationResponse))]
[JsonSerializable(typeof(ExtendRequest))]
[JsonSerializable(typeof(ChangeReservationRequest))]
[JsonSerializable(typeof(ConfirmRequest))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(ShortfallResponse[]))]
[JsonSerializable(typeof(CreatePricingRequest))]
[JsonSerializable(typeof(PricingResponse))]
[JsonSerializable(typeof(PricingListResponse))]
[JsonSerializable(typeof(CreateAllocationRequest))]
[JsonSerializable(typeof(UpdateAllocationRequest))]
[JsonSerializable(typeof(ReleaseAllocationRequest))]
[JsonSerializable(typeof(AllocationResponse))]
[JsonSerializable(typeof(AllocationListResponse))]
[JsonSerializable(typeof(CreateLimitRequest))]
[JsonSerializable(typeof(UpdateLimitRequest))]
[JsonSerializable(typeof(LimitResponse))]
[JsonSerializable(typeof(LimitListResponse))]
[JsonSerializable(typeof(LimitUsageResponse))]
[JsonSerializable(typeof(JoinWaitlistRequest))]
[JsonSerializable(typeof(WaitlistEntryResponse))]
[JsonSerializable(typeof(WaitlistPageResponse))]
[JsonSerializable(typeof(LedgerPageResponse))]
[JsonSerializable(typeof(StatsResponse))]
[JsonSerializable(typeof(CreateTenantRequest))]
[JsonSerializable(typeof(TenantKeyResponse))]
[JsonSerializable(typeof(IssueKeyRequest))]
[JsonSerializable(typeof(ApiKeyResponse))]
[JsonSerializable(typeof(ApiKeyListResponse))]
[JsonSerializable(typeof(TenantResponse))]
[JsonSerializable(typeof(TenantListResponse))]
[JsonSerializable(typeof(VerifyResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(IndexResponse))]
[JsonSerializable(typeof(EventListResponse))]
[JsonSerializable(typeof(EventStreamSnapshot))]
[JsonSerializable(typeof(CredentialResponse))]
[JsonSerializable(typeof(CreateWebhookRequest))]
[JsonSerializable(typeof(UpdateWebhookRequest))]
[JsonSerializable(typeof(WebhookResponse))]
[JsonSerializable(typeof(WebhookListResponse))]
[JsonSerializable(typeof(DeliveryListResponse))]
[JsonSerializable(typeof(RetryResponse))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
internal sealed partial class AppJson : JsonSerializerContext
{
    /// <summary>
    /// The host's JSON options (ASP.NET Core's web defaults and relaxed encoder) as the server sets
    /// them up: snake_case, with this contract first. The response benchmark starts from the same.
    /// </summary>
    public static void ConfigureHost(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.TypeInfoResolverChain.Insert(0, Default);
    }
}

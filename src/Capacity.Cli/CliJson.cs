using System.Text.Json.Serialization;
using Capacity.Client;

namespace Capacity.Cli;

/// <summary>
/// <c>events show --json</c>: the two reads the table is built from, in one document, with the
/// fields exactly as the API names them.
/// </summary>
internal sealed record EventView(string EventId, IReadOnlyList<CapacityDetails> Capacity, CapacityTotals Totals);

/// <summary><c>webhooks show --json</c>: the endpoint and its newest deliveries (oldest of them first), each as the API has it.</summary>
internal sealed record WebhookView(WebhookDetails Webhook, IReadOnlyList<WebhookDelivery> Deliveries);

/// <summary>
/// What <c>--json</c> prints: the SDK's records written back in the API's own shape (snake_case,
/// nulls included), one document per line so a script can read it line by line. The members the API
/// leaves out when they do not apply (<c>allocations</c>, <c>allocation_id</c>, <c>buyer_key</c>,
/// <c>waitlist</c>, <c>waitlist_demand</c>, <c>waitlist_id</c>, <c>external_ref</c>, <c>metadata</c>,
/// <c>cancelled_quantity</c>, <c>reclaimed</c>, <c>next_change_at</c>, <c>low_watermark</c> and the sale rules' members) are left out here too: the SDK's records say so on those
/// properties. Metadata keys are written as they were given, not in snake_case: the naming policy is
/// for property names, not dictionary keys.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TenantKey))]
[JsonSerializable(typeof(ApiKeyInfo))]
[JsonSerializable(typeof(ApiKeyList))]
[JsonSerializable(typeof(TenantInfo))]
[JsonSerializable(typeof(TenantList))]
[JsonSerializable(typeof(CredentialInfo))]
[JsonSerializable(typeof(EventList))]
[JsonSerializable(typeof(EventView))]
[JsonSerializable(typeof(ReserveResult))]
[JsonSerializable(typeof(Reservation))]
[JsonSerializable(typeof(ReservationPage))]
[JsonSerializable(typeof(EventSnapshot))]
[JsonSerializable(typeof(AllocationDetails))]
[JsonSerializable(typeof(AllocationList))]
[JsonSerializable(typeof(LimitDetails))]
[JsonSerializable(typeof(LimitList))]
[JsonSerializable(typeof(LimitUsage))]
[JsonSerializable(typeof(CapacityDetails))]
[JsonSerializable(typeof(WaitlistEntry))]
[JsonSerializable(typeof(WaitlistPage))]
[JsonSerializable(typeof(WebhookDetails))]
[JsonSerializable(typeof(WebhookList))]
[JsonSerializable(typeof(WebhookView))]
[JsonSerializable(typeof(WebhookDeliveryPage))]
[JsonSerializable(typeof(DeliveryRetry))]
[JsonSerializable(typeof(VerifyReport))]
[JsonSerializable(typeof(EventStats))]
[JsonSerializable(typeof(LedgerPage))]
[JsonSerializable(typeof(PricingDetails))]
[JsonSerializable(typeof(PricingList))]
[JsonSerializable(typeof(CapacityCheck))]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class CliJson : JsonSerializerContext;

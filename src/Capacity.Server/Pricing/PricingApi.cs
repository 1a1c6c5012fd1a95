using Capacity.Core;
using Capacity.Engine;
using Capacity.Server.Http;
using Capacity.Server.Views;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Capacity.Server.Pricing;

/// <summary>Price entries of a capacity. Changing a price never touches a price already locked by a hold.</summary>
internal static class PricingApi
{
    public static RouteGroupBuilder MapPricing(this IEndpointRouteBuilder app)
    {
        var group = app.MapTenantGroup("Pricing");
        group.MapPost("/capacity/{id}/pricing", Create).Body<CreatePricingRequest>().Doc(
            "Add a price to a capacity", "Money is exact decimal. The unit price is `current_price` when set, else `base_price`; 0 is a real price.", 400, 404, 409, 413, 422);
        group.MapGet("/capacity/{id}/pricing", List).HeavyRead().Doc("List a capacity's prices", "In creation order.", 404);
        group.MapGet("/pricing/{id}", Get).Doc("Get a price", "As it is now; locked prices live on reservations.", 404);
        group.MapPut("/pricing/{id}", Update).Body<UpdatePricingRequest>().Doc(
            "Change a price", "Send only the fields to change; `current_price` null clears it. Never alters a price already locked by a hold.", 400, 404, 409, 413, 422);
        return group;
    }

    private static async Task<Results<JsonCreated<PricingResponse>, ProblemHttpResult, StoredResult>> Create(
        string id, TenantCaller caller, JsonRequest<CreatePricingRequest> body, HttpContext context, Writes writes)
    {
        if (body.Problem is { } invalid)
        {
            return invalid;
        }

        if (!Guid.TryParse(id, out var capacityId))
        {
            return ApiErrors.CapacityNotFound(id);
        }

        var r = body.Value;
        var command = new CreatePrice(
            caller.TenantId, TimeOrderedIds.New(), capacityId, r.Name, r.BasePrice, r.CurrentPrice,
            r.ServiceFee ?? 0, r.FacilityFee ?? 0, r.TaxRate ?? 0, r.Currency);
        return await writes.ExecuteAsync<JsonCreated<PricingResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
            ? JsonResults.Created($"/pricing/{o.Price!.Id}", PricingResponse.From(o.Price))
            : ApiErrors.FromOutcome(o));
    }

    private static async Task<Results<JsonOk<PricingListResponse>, ProblemHttpResult>> List(
        string id, [FromQuery] string? after, [FromQuery] string? limit, TenantCaller caller, IReadStore store, ServerOptions options, CancellationToken ct)
    {
        if (await CapacityReads.Load(id, caller.TenantId, store, ct) is null)
        {
            return ApiErrors.CapacityNotFound(id);
        }

        var prices = await store.GetPricesAsync(caller.TenantId, Guid.Parse(id), ct);
        return ListPages.TryCut(prices, p => p.Id.ToString(), after, limit, options, $"price of capacity {id}", out var page, out var more) is { } bad
            ? bad
            : JsonResults.Ok(new PricingListResponse([.. page.Select(PricingResponse.From)], more ? page[^1].Id : null));
    }

    private static async Task<Results<JsonOk<PricingResponse>, ProblemHttpResult>> Get(string id, TenantCaller caller, IReadStore store, CancellationToken ct)
    {
        var price = Guid.TryParse(id, out var priceId) ? await store.GetPriceAsync(caller.TenantId, priceId, ct) : null;
        return price is null ? NotFound(id) : JsonResults.Ok(PricingResponse.From(price));
    }

    private static async Task<Results<JsonOk<PricingResponse>, ProblemHttpResult, StoredResult>> Update(
        string id, TenantCaller caller, RawRequest body, HttpContext context, Writes writes)
    {
        if (body.Unread is { } unread)
        {
            return unread;
        }

        if (!Guid.TryParse(id, out var priceId))
        {
            return NotFound(id);
        }

        if (!PatchReader.TryOpen(body.Bytes, out var document, out var error))
        {
            return ApiErrors.Validation("body", error!);
        }

        using (document)
        {
            var reader = new PatchReader();
            Change<string> name = default, currency = default;
            Change<decimal> basePrice = default, serviceFee = default, facilityFee = default, taxRate = default;
            Change<decimal?> currentPrice = default;
            foreach (var p in document!.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "name": name = reader.String(p); break;
                    case "base_price": basePrice = reader.Decimal(p); break;
                    case "current_price": currentPrice = reader.NullableDecimal(p); break;
                    case "service_fee": serviceFee = reader.Decimal(p); break;
                    case "facility_fee": facilityFee = reader.Decimal(p); break;
                    case "tax_rate": taxRate = reader.Decimal(p); break;
                    case "currency": currency = reader.String(p); break;
                    default: reader.Fail(p.Name, $"{p.Name} cannot be updated; updatable fields are name, base_price, current_price, service_fee, facility_fee, tax_rate and currency."); break;
                }
            }

            if (reader.Errors.Count > 0)
            {
                return ApiErrors.Validation(reader.Errors);
            }

            var command = new UpdatePrice(caller.TenantId, priceId, name, basePrice, currentPrice, serviceFee, facilityFee, taxRate, currency);
            return await writes.ExecuteAsync<JsonOk<PricingResponse>>(context, caller.TenantId, body.Bytes, command, o => o.Succeeded
                ? JsonResults.Ok(PricingResponse.From(o.Price!))
                : ApiErrors.FromOutcome(o));
        }
    }

    private static ProblemHttpResult NotFound(string id) => ApiErrors.NotFound($"Pricing {id} was not found.");
}

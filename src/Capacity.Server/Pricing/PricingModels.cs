using System.Text.Json.Serialization;
using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Pricing;

internal sealed record CreatePricingRequest
{
    public required string Name { get; init; }
    [JsonConverter(typeof(ExactDecimalConverter))]
    public required decimal BasePrice { get; init; }

    [JsonConverter(typeof(ExactNullableDecimalConverter))]
    public decimal? CurrentPrice { get; init; }

    [JsonConverter(typeof(ExactNullableDecimalConverter))]
    public decimal? ServiceFee { get; init; }

    [JsonConverter(typeof(ExactNullableDecimalConverter))]
    public decimal? FacilityFee { get; init; }

    [JsonConverter(typeof(ExactNullableDecimalConverter))]
    public decimal? TaxRate { get; init; }

    public required string Currency { get; init; }
}

/// <summary>
/// The fields a PUT may send, each optional; read field by field so that null can clear <c>current_price</c>.
/// Documentation only: every field is optional here and nullable exactly where that reader takes null, and the
/// initial values are never read.
/// </summary>
internal sealed record UpdatePricingRequest
{
    public string Name { get; init; } = "";
    public decimal BasePrice { get; init; }

    /// <summary>Null clears it: the base price applies.</summary>
    public decimal? CurrentPrice { get; init; }
    public decimal ServiceFee { get; init; }
    public decimal FacilityFee { get; init; }
    public decimal TaxRate { get; init; }
    public string Currency { get; init; } = "";
}

internal sealed record PricingResponse(
    Guid Id,
    Guid CapacityId,
    string Name,
    decimal BasePrice,
    decimal? CurrentPrice,
    decimal UnitPrice,
    decimal ServiceFee,
    decimal FacilityFee,
    decimal TaxRate,
    string Currency,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static PricingResponse From(PriceEntry p) => new(
        p.Id, p.CapacityId, p.Name, Money.Show(p.BasePrice, p.Currency), p.CurrentPrice is { } current ? Money.Show(current, p.Currency) : null,
        Money.Show(p.UnitPrice, p.Currency), Money.Show(p.ServiceFee, p.Currency), Money.Show(p.FacilityFee, p.Currency), p.TaxRate, p.Currency, p.CreatedAt, p.UpdatedAt);
}

internal sealed record PricingListResponse(PricingResponse[] Pricing, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

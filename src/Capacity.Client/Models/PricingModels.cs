using System.Text.Json.Serialization;

namespace Capacity.Client;

/// <summary>The body of <c>POST /capacity/{id}/pricing</c>.</summary>
public sealed record CreatePricingRequest
{
    /// <summary>The entry's name, such as "Adult".</summary>
    public required string Name { get; init; }

    /// <summary>The list price.</summary>
    public required decimal BasePrice { get; init; }

    /// <summary>An optional price that overrides the base price while set.</summary>
    public decimal? CurrentPrice { get; init; }

    /// <summary>Per ticket; 0 when null.</summary>
    public decimal? ServiceFee { get; init; }

    /// <summary>Per ticket; 0 when null.</summary>
    public decimal? FacilityFee { get; init; }

    /// <summary>0 to 1; 0 when null.</summary>
    public decimal? TaxRate { get; init; }

    /// <summary>ISO 4217 code, such as "EUR".</summary>
    public required string Currency { get; init; }
}

/// <summary>
/// The body of <c>PUT /pricing/{id}</c>: only the fields that are set are sent. Prices already
/// locked by holds never change.
/// </summary>
public sealed record UpdatePricingRequest
{
    /// <summary>A new name.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> Name { get; init; }

    /// <summary>A new list price.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<decimal> BasePrice { get; init; }

    /// <summary>A new overriding price, or null to clear it so the base price applies again.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<decimal?> CurrentPrice { get; init; }

    /// <summary>A new per-ticket service fee.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<decimal> ServiceFee { get; init; }

    /// <summary>A new per-ticket facility fee.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<decimal> FacilityFee { get; init; }

    /// <summary>A new tax rate, 0 to 1.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<decimal> TaxRate { get; init; }

    /// <summary>A new ISO 4217 currency code.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Optional<string> Currency { get; init; }
}

/// <summary>A price entry of a capacity.</summary>
/// <param name="Id">The entry's id; pass it as a pricing id to lock its price in a hold.</param>
/// <param name="CapacityId">The capacity it prices.</param>
/// <param name="Name">The entry's name.</param>
/// <param name="BasePrice">The list price.</param>
/// <param name="CurrentPrice">The overriding price, if set.</param>
/// <param name="UnitPrice">What a hold would lock now: the current price if set, else the base price.</param>
/// <param name="ServiceFee">Per ticket.</param>
/// <param name="FacilityFee">Per ticket.</param>
/// <param name="TaxRate">0 to 1.</param>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record PricingDetails(
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
    DateTimeOffset UpdatedAt);

/// <summary>The answer of <c>GET /capacity/{id}/pricing</c>: every entry, or one page of them.</summary>
/// <param name="Pricing">The capacity's price entries (of this page) in creation order.</param>
/// <param name="NextAfter">Pass as <c>after</c> for the next page; null on the last page, and on a list asked for whole.</param>
public sealed record PricingList(
    IReadOnlyList<PricingDetails> Pricing,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? NextAfter = null);

using System.Text;
using System.Text.Json;
using Capacity.Core;
using Capacity.Storage;

namespace Capacity.Engine.Tests;

/// <summary>
/// The items column is written and read by hand (RowFormat.Items). Rows written before that by the
/// source-generated serializer must read the same, and PostgreSQL hands it back as jsonb text, with
/// its keys reordered and spaces added.
/// </summary>
public sealed class RowFormatTests
{
    // What the source-generated serializer was configured with before the items were written by hand.
    private static readonly JsonSerializerOptions SerializerFormat = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    [Fact]
    public void Items_are_written_exactly_as_the_serializer_wrote_them_and_read_back_equal()
    {
        var random = new Random(4711);
        for (var run = 0; run < 500; run++)
        {
            var items = RandomItems(random);

            var byHand = RowFormat.Items(items);

            // The allocation id is written only on an item drawn from one, and the cancelled quantity only
            // on an item partly refunded, so rows of items without them are exactly what the serializer
            // wrote before allocations and partial refunds existed.
            var serialized = JsonSerializer.Serialize(items, SerializerFormat)
                .Replace(",\"allocation_id\":null", "", StringComparison.Ordinal)
                .Replace(",\"cancelled_quantity\":0", "", StringComparison.Ordinal);
            Assert.Equal(serialized, byHand);
            Assert.Equal(items, RowFormat.Items(Encoding.UTF8.GetBytes(byHand)));
            Assert.Equal(items, RowFormat.Items(byHand));
        }
    }

    [Fact]
    public void Items_in_any_key_order_and_spacing_read_the_same_as_jsonb_returns_them()
    {
        var capacity = Guid.Parse("0197a000-0000-7000-8000-000000000001");
        var pricing = Guid.Parse("0197a000-0000-7000-8000-000000000002");
        const string jsonb = """
            [{"quantity": 2, "capacity_id": "0197a000-0000-7000-8000-000000000001", "locked_price": {"name": "Früh", "currency": "EUR",
              "tax_rate": 0.19, "unit_price": 0, "locked_at": "2026-11-21T10:00:00+00:00", "pricing_id": "0197a000-0000-7000-8000-000000000002",
              "service_fee": 1.50, "facility_fee": 0.25}},
             {"locked_price": null, "quantity": 1, "capacity_id": "0197a000-0000-7000-8000-000000000001"}]
            """;

        var items = RowFormat.Items(jsonb);

        var at = new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            [
                new ReservationItem(capacity, 2, new LockedPrice(pricing, "Früh", 0m, 1.50m, 0.25m, 0.19m, "EUR", at)),
                new ReservationItem(capacity, 1, null),
            ],
            items);
        Assert.Equal("1.50", items[0].LockedPrice!.ServiceFee.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("[")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\"}]")]
    [InlineData("[{\"quantity\":1}]")]
    [InlineData("[{\"capacity_id\":\"not-a-guid\",\"quantity\":1,\"locked_price\":null}]")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\",\"quantity\":1.5,\"locked_price\":null}]")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\",\"quantity\":1,\"quantity\":2,\"locked_price\":null}]")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\",\"quantity\":1,\"locked_price\":null,\"extra\":1}]")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\",\"quantity\":1,\"locked_price\":{\"name\":\"A\"}}]")]
    [InlineData("[{\"capacity_id\":\"0197a000-0000-7000-8000-000000000001\",\"quantity\":1,\"locked_price\":null}] []")]
    [InlineData("[1]")]
    public void A_column_that_is_not_items_of_the_expected_shape_is_refused_rather_than_guessed_at(string json)
    {
        Assert.Throws<InvalidDataException>(() => RowFormat.Items(json));
    }

    private static ReservationItem[] RandomItems(Random random)
    {
        var items = new ReservationItem[random.Next(1, 6)];
        for (var i = 0; i < items.Length; i++)
        {
            LockedPrice? price = random.Next(3) == 0
                ? null
                : new LockedPrice(
                    Guid.CreateVersion7(),
                    random.Next(4) switch { 0 => "", 1 => "Früh \"bird\" \\ <tier>", 2 => "Stehplatz ✓", _ => "General" },
                    Money(random),
                    Money(random),
                    Money(random),
                    random.Next(0, 30) / 100m,
                    random.Next(2) == 0 ? "EUR" : "USD",
                    DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + random.NextInt64(0, 100_000_000_000)));
            items[i] = new ReservationItem(
                Guid.CreateVersion7(), random.Next(0, 10_001), price, random.Next(4) == 0 ? Guid.CreateVersion7() : null, random.Next(4) == 0 ? random.Next(1, 100) : 0);
        }

        return items;
    }

    // Zero, whole amounts, cents, and amounts with trailing zeros (whose scale must survive).
    private static decimal Money(Random random) => random.Next(4) switch
    {
        0 => 0m,
        1 => random.Next(1, 1000),
        2 => random.Next(0, 1_000_000) / 100m,
        _ => decimal.Parse($"{random.Next(0, 1000)}.{random.Next(0, 10)}0", System.Globalization.CultureInfo.InvariantCulture),
    };
}

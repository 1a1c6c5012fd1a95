using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capacity.Core;

namespace Capacity.Storage;

/// <summary>How rows are encoded in columns, shared by the stores so both keep the same format.</summary>
public static class RowFormat
{
    public static string Id(Guid id) => id.ToString("D");

    public static Guid Id(string text) => Guid.ParseExact(text, "D");

    public static string Ids(Guid[] ids) => string.Join(',', ids);

    public static Guid[] Ids(string text) => text.Length == 0 ? [] : Array.ConvertAll(text.Split(','), Id);

    /// <summary>A JSON array of ids, for <c>json_each</c> and <c>jsonb_array_elements_text</c> lookups.</summary>
    public static string IdArray(IEnumerable<Guid> ids) => JsonSerializer.Serialize(ids.Select(Id).ToArray(), RowJson.Default.StringArray);

    public static string Money(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    public static decimal Money(string text) => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static long Time(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static long? Time(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>A hold's metadata as a JSON object of strings, in the order given; null when it has none.</summary>
    public static string? Metadata(ReservationLabels? labels)
    {
        if (labels?.Metadata is not { } metadata)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (key, value) in metadata)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A hold's labels from its <c>external_ref</c> and <c>metadata</c> columns; null when both are null.</summary>
    public static ReservationLabels? Labels(string? externalRef, string? metadata)
    {
        if (externalRef is null && metadata is null)
        {
            return null;
        }

        KeyValuePair<string, string>[]? pairs = null;
        if (metadata is not null)
        {
            using var doc = JsonDocument.Parse(metadata);
            pairs = [.. doc.RootElement.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.GetString()!))];
        }

        return new ReservationLabels(externalRef, pairs);
    }

    /// <summary>The event of a hold's first item: the event it is listed under (the store's <c>event_id</c> column).</summary>
    public static string EventOf(WorkingSet ws, in Reservation r) =>
        (ws.FindCapacity(r.Items[0].CapacityId) ?? throw new InvalidOperationException($"Capacity {r.Items[0].CapacityId} of reservation {r.Id} was not loaded.")).EventId;

    /// <summary>
    /// The events of a hold's items other than its first item's, each once (a cart across events is
    /// listed under each); empty for nearly every hold, and then it allocates nothing.
    /// </summary>
    public static IEnumerable<string> OtherEventsOf(WorkingSet ws, Reservation r)
    {
        var first = EventOf(ws, r);
        List<string>? seen = null;
        for (var i = 1; i < r.Items.Length; i++)
        {
            var eventId = ws.FindCapacity(r.Items[i].CapacityId)?.EventId;
            if (eventId is not null && eventId != first && !(seen?.Contains(eventId) ?? false))
            {
                (seen ??= []).Add(eventId);
            }
        }

        return seen ?? (IEnumerable<string>)[];
    }

    /// <summary>
    /// A capacity's sale rules as a JSON object of the fields that are set (<c>starts_at</c>, <c>ends_at</c>
    /// and <c>sold_out_at</c> in Unix ms, <c>opens_after</c>, <c>close_when_sold_out</c>, <c>overbook_limit</c>,
    /// <c>tier_open</c>, <c>closed_reason</c>, <c>successors</c>, <c>low_watermark</c>, <c>edge_at</c>), or null for a capacity without any.
    /// </summary>
    public static string? Sale(SaleRules? rules)
    {
        if (rules is null)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (rules.StartsAt is { } starts)
            {
                w.WriteNumber("starts_at", Time(starts));
            }

            if (rules.EndsAt is { } ends)
            {
                w.WriteNumber("ends_at", Time(ends));
            }

            if (rules.OpensAfter is { } earlier)
            {
                w.WriteString("opens_after", Id(earlier));
            }

            if (rules.CloseWhenSoldOut)
            {
                w.WriteBoolean("close_when_sold_out", true);
            }

            if (rules.OverbookLimit != 0)
            {
                w.WriteNumber("overbook_limit", rules.OverbookLimit);
            }

            if (rules.TierOpen)
            {
                w.WriteBoolean("tier_open", true);
            }

            if (rules.SoldOutAt is { } soldOut)
            {
                w.WriteNumber("sold_out_at", Time(soldOut));
            }

            if (rules.ClosedReason is { } reason)
            {
                w.WriteString("closed_reason", reason);
            }

            if (rules.Successors is { Length: > 0 } successors)
            {
                w.WriteString("successors", Ids(successors));
            }

            if (rules.LowWatermark is { } low)
            {
                w.WriteNumber("low_watermark", low);
            }

            if (rules.EdgeAt is { } edge)
            {
                w.WriteNumber("edge_at", Time(edge));
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static SaleRules? Sale(string? text)
    {
        if (text is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(text);
        var o = doc.RootElement;
        DateTimeOffset? At(string name) => o.TryGetProperty(name, out var v) ? Time(v.GetInt64()) : null;
        return new SaleRules(
            At("starts_at"),
            At("ends_at"),
            o.TryGetProperty("opens_after", out var earlier) ? Id(earlier.GetString()!) : null,
            o.TryGetProperty("close_when_sold_out", out var close) && close.GetBoolean(),
            o.TryGetProperty("overbook_limit", out var overbook) ? overbook.GetInt32() : 0,
            o.TryGetProperty("tier_open", out var open) && open.GetBoolean(),
            At("sold_out_at"),
            o.TryGetProperty("closed_reason", out var reason) ? reason.GetString() : null,
            o.TryGetProperty("successors", out var successors) ? Ids(successors.GetString()!) : null,
            o.TryGetProperty("low_watermark", out var low) ? low.GetInt32() : null,
            At("edge_at"));
    }

    /// <summary>A waiting list's settings as "enabled:offer_minutes:policy" (1:30:fifo), or null for a capacity that never had one.</summary>
    public static string? Waitlist(WaitlistSettings? settings) => settings is null
        ? null
        : string.Create(CultureInfo.InvariantCulture, $"{(settings.Enabled ? 1 : 0)}:{settings.OfferMinutes}:{(settings.Policy == WaitlistPolicy.Fifo ? "fifo" : "first_fit")}");

    public static WaitlistSettings? Waitlist(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var parts = text.Split(':');
        return new WaitlistSettings(parts[0] == "1", int.Parse(parts[1], CultureInfo.InvariantCulture), parts[2] == "fifo" ? WaitlistPolicy.Fifo : WaitlistPolicy.FirstFit);
    }

    /// <summary>A waiting-list entry's lines as "capacity_id:quantity" joined by ','.</summary>
    public static string Lines(WaitlistItem[] items) =>
        string.Join(',', items.Select(i => string.Create(CultureInfo.InvariantCulture, $"{Id(i.CapacityId)}:{i.Quantity}")));

    /// <summary>The units entries' lines (<see cref="Lines(WaitlistItem[])"/>) ask of these capacities.</summary>
    public static long WaitingOn(IEnumerable<string> entriesLines, IReadOnlyCollection<Guid> capacityIds)
    {
        long waiting = 0;
        foreach (var text in entriesLines)
        {
            foreach (var item in Lines(text))
            {
                if (capacityIds.Contains(item.CapacityId))
                {
                    waiting += item.Quantity;
                }
            }
        }

        return waiting;
    }

    public static WaitlistItem[] Lines(string text) => Array.ConvertAll(text.Split(','), line =>
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        return new WaitlistItem(Id(line[..colon]), int.Parse(line.AsSpan(colon + 1), CultureInfo.InvariantCulture));
    });

    public static string Items(ReservationItem[] items)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Items(items, w);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// A reservation's items as JSON, written to a caller's buffer:
    /// <c>[{"capacity_id":…,"quantity":…,"locked_price":null | {"pricing_id":…,"name":…,"unit_price":…,
    /// "service_fee":…,"facility_fee":…,"tax_rate":…,"currency":…,"locked_at":…}(,"allocation_id":…)}]</c>,
    /// the allocation id only on an item drawn from one. Written and read by
    /// hand rather than by the source-generated serializer: every hold writes it and every expiry reads
    /// it, and the serializer's per-call set-up was most of the time it took to read a hold back
    /// (measured by <c>EngineBench --scenario expiry</c>; see docs/performance.md). The text is the same
    /// as the serializer's (snake_case, declaration order), so rows written before are read the same way.
    /// </summary>
    public static void Items(ReservationItem[] items, Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var item in items)
        {
            w.WriteStartObject();
            w.WriteString(ItemNames.CapacityId, item.CapacityId);
            w.WriteNumber(ItemNames.Quantity, item.Quantity);
            if (item.LockedPrice is not { } p)
            {
                w.WriteNull(ItemNames.LockedPrice);
            }
            else
            {
                w.WriteStartObject(ItemNames.LockedPrice);
                w.WriteString(ItemNames.PricingId, p.PricingId);
                w.WriteString(ItemNames.Name, p.Name);
                w.WriteNumber(ItemNames.UnitPrice, p.UnitPrice);
                w.WriteNumber(ItemNames.ServiceFee, p.ServiceFee);
                w.WriteNumber(ItemNames.FacilityFee, p.FacilityFee);
                w.WriteNumber(ItemNames.TaxRate, p.TaxRate);
                w.WriteString(ItemNames.Currency, p.Currency);
                w.WriteString(ItemNames.LockedAt, p.LockedAt);
                w.WriteEndObject();
            }

            if (item.AllocationId is { } allocationId)
            {
                w.WriteString(ItemNames.AllocationId, allocationId);
            }

            // Only after a partial refund, so every other hold's row reads as it always did.
            if (item.CancelledQuantity > 0)
            {
                w.WriteNumber(ItemNames.CancelledQuantity, item.CancelledQuantity);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>
    /// Reads what <see cref="Items(ReservationItem[], Utf8JsonWriter)"/> writes, in any property order and
    /// spacing (PostgreSQL's jsonb reorders keys). Anything else is <see cref="InvalidDataException"/>: a
    /// row that does not say what it holds must not be guessed at.
    /// </summary>
    public static ReservationItem[] Items(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var r = new Utf8JsonReader(utf8);
            Expect(ref r, JsonTokenType.StartArray);
            var items = new List<ReservationItem>(1);
            while (Next(ref r) != JsonTokenType.EndArray)
            {
                Require(r.TokenType == JsonTokenType.StartObject);
                Guid? capacity = null;
                int? quantity = null;
                LockedPrice? price = null;
                Guid? allocation = null;
                var cancelled = 0;
                while (Next(ref r) != JsonTokenType.EndObject)
                {
                    Require(r.TokenType == JsonTokenType.PropertyName);
                    if (r.ValueTextEquals(ItemNames.CapacityId.EncodedUtf8Bytes))
                    {
                        Require(capacity is null);
                        Next(ref r);
                        capacity = r.GetGuid();
                    }
                    else if (r.ValueTextEquals(ItemNames.Quantity.EncodedUtf8Bytes))
                    {
                        Require(quantity is null);
                        Next(ref r);
                        quantity = r.GetInt32();
                    }
                    else if (r.ValueTextEquals(ItemNames.LockedPrice.EncodedUtf8Bytes))
                    {
                        price = Next(ref r) == JsonTokenType.Null ? null : ReadPrice(ref r);
                    }
                    else if (r.ValueTextEquals(ItemNames.AllocationId.EncodedUtf8Bytes))
                    {
                        Require(allocation is null);
                        Next(ref r);
                        allocation = r.GetGuid();
                    }
                    else if (r.ValueTextEquals(ItemNames.CancelledQuantity.EncodedUtf8Bytes))
                    {
                        Next(ref r);
                        cancelled = r.GetInt32();
                    }
                    else
                    {
                        throw new InvalidDataException($"Reservation items have an unknown property {r.GetString()}.");
                    }
                }

                Require(capacity is not null && quantity is not null);
                items.Add(new ReservationItem(capacity!.Value, quantity!.Value, price, allocation, cancelled));
            }

            Require(!r.Read());
            return [.. items];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException("Reservation items are not valid JSON of the expected shape.", e);
        }
    }

    public static ReservationItem[] Items(string json) => Items(Encoding.UTF8.GetBytes(json));

    private static LockedPrice ReadPrice(ref Utf8JsonReader r)
    {
        Require(r.TokenType == JsonTokenType.StartObject);
        Guid? id = null;
        string? name = null, currency = null;
        decimal? unit = null, service = null, facility = null, tax = null;
        DateTimeOffset? at = null;
        while (Next(ref r) != JsonTokenType.EndObject)
        {
            Require(r.TokenType == JsonTokenType.PropertyName);
            var property = r.GetString();
            Next(ref r);
            switch (property)
            {
                case "pricing_id": id = r.GetGuid(); break;
                case "name": name = r.GetString(); break;
                case "unit_price": unit = r.GetDecimal(); break;
                case "service_fee": service = r.GetDecimal(); break;
                case "facility_fee": facility = r.GetDecimal(); break;
                case "tax_rate": tax = r.GetDecimal(); break;
                case "currency": currency = r.GetString(); break;
                case "locked_at": at = r.GetDateTimeOffset(); break;
                default: throw new InvalidDataException($"A locked price has an unknown property {property}.");
            }
        }

        Require(id is not null && name is not null && unit is not null && service is not null && facility is not null
            && tax is not null && currency is not null && at is not null);
        return new LockedPrice(id!.Value, name!, unit!.Value, service!.Value, facility!.Value, tax!.Value, currency!, at!.Value);
    }

    private static JsonTokenType Next(ref Utf8JsonReader r)
    {
        Require(r.Read());
        return r.TokenType;
    }

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type) => Require(Next(ref r) == type);

    private static void Require(bool condition)
    {
        if (!condition)
        {
            throw new InvalidDataException("Reservation items are not valid JSON of the expected shape.");
        }
    }

    private static class ItemNames
    {
        public static readonly JsonEncodedText CapacityId = JsonEncodedText.Encode("capacity_id");
        public static readonly JsonEncodedText Quantity = JsonEncodedText.Encode("quantity");
        public static readonly JsonEncodedText LockedPrice = JsonEncodedText.Encode("locked_price");
        public static readonly JsonEncodedText PricingId = JsonEncodedText.Encode("pricing_id");
        public static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
        public static readonly JsonEncodedText UnitPrice = JsonEncodedText.Encode("unit_price");
        public static readonly JsonEncodedText ServiceFee = JsonEncodedText.Encode("service_fee");
        public static readonly JsonEncodedText FacilityFee = JsonEncodedText.Encode("facility_fee");
        public static readonly JsonEncodedText TaxRate = JsonEncodedText.Encode("tax_rate");
        public static readonly JsonEncodedText Currency = JsonEncodedText.Encode("currency");
        public static readonly JsonEncodedText LockedAt = JsonEncodedText.Encode("locked_at");
        public static readonly JsonEncodedText AllocationId = JsonEncodedText.Encode("allocation_id");
        public static readonly JsonEncodedText CancelledQuantity = JsonEncodedText.Encode("cancelled_quantity");
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
internal sealed partial class RowJson : JsonSerializerContext;

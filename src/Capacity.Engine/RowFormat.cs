using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capacity.Core;

namespace Capacity.Engine;

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

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static string Items(ReservationItem[] items) => JsonSerializer.Serialize(items, RowJson.Default.ReservationItemArray);

    /// <summary>The same JSON as <see cref="Items(ReservationItem[])"/>, written to a caller's buffer.</summary>
    public static void Items(ReservationItem[] items, Utf8JsonWriter into) => JsonSerializer.Serialize(into, items, RowJson.Default.ReservationItemArray);

    public static ReservationItem[] Items(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, RowJson.Default.ReservationItemArray) ?? throw new InvalidDataException("Reservation items are null.");

    public static ReservationItem[] Items(string json) =>
        JsonSerializer.Deserialize(json, RowJson.Default.ReservationItemArray) ?? throw new InvalidDataException("Reservation items are null.");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReservationItem[]))]
[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
internal sealed partial class RowJson : JsonSerializerContext;

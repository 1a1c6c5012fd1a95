using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capacity.Server.Http;

/// <summary>
/// A decimal sent by a client, refused when it has more decimal places than a <see cref="decimal"/>
/// keeps (28): the serializer would round it to fit before any rule saw it, so 0.99999999999999999999999999999
/// would be taken as 1.00 and 1e-29 as 0, where every price and rate allows a few places at most.
/// </summary>
internal static class ExactDecimal
{
    /// <summary>The sentence a refusal says.</summary>
    public const string Rule = "has more decimal places than a price or a rate may have.";

    private const int MaxPlaces = 28;

    /// <summary>Whether a JSON number's text has more than 28 decimal places once its trailing zeros are dropped.</summary>
    public static bool TooManyPlaces(ReadOnlySpan<byte> number)
    {
        var e = number.IndexOfAny((byte)'e', (byte)'E');
        var mantissa = e < 0 ? number : number[..e];
        var exponent = 0L;
        if (e >= 0)
        {
            var digits = number[(e + 1)..];
            var negative = digits.Length > 0 && digits[0] == '-';
            foreach (var d in digits.TrimStart("+-"u8))
            {
                // A number like 1e-99999999999 has places enough whatever its exact exponent.
                exponent = Math.Min(exponent * 10 + (d - '0'), int.MaxValue);
            }

            exponent = negative ? -exponent : exponent;
        }

        var point = mantissa.IndexOf((byte)'.');
        var fraction = point < 0 ? [] : mantissa[(point + 1)..].TrimEnd((byte)'0');
        return fraction.Length - exponent > MaxPlaces;
    }
}

/// <summary>Reads a request's decimal, refusing one that <see cref="ExactDecimal"/> says would be rounded.</summary>
internal sealed class ExactDecimalConverter : JsonConverter<decimal>
{
    public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Number && ExactDecimal.TooManyPlaces(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan)
            ? throw new JsonFieldException(ExactDecimal.Rule)
            : reader.GetDecimal();

    public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <summary><see cref="ExactDecimalConverter"/> for an optional decimal; null stays null.</summary>
internal sealed class ExactNullableDecimalConverter : JsonConverter<decimal?>
{
    private static readonly ExactDecimalConverter Value = new();

    public override decimal? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Value.Read(ref reader, typeof(decimal), options);

    public override void Write(Utf8JsonWriter writer, decimal? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

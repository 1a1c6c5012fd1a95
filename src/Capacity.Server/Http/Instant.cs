using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Capacity.Core;

namespace Capacity.Server.Http;

/// <summary>
/// A point in time sent by a client: an RFC 3339 date-time with an explicit offset. The serializer's
/// own reading takes a time without one as the server's local time, which a client cannot know; here
/// it is refused. Kept as UTC to the millisecond, as the stores keep it, so an answer rendered from the
/// decision reads the same as the row read back later.
/// </summary>
internal static partial class Instant
{
    /// <summary>The sentence every refusal of a date-time ends with.</summary>
    public const string Rule = "must be an RFC 3339 date-time with an offset, e.g. 2030-05-01T18:00:00Z.";

    /// <summary>The sentence for an RFC 3339 date-time whose instant falls outside what a date can hold.</summary>
    public const string RangeRule = "is an RFC 3339 date-time, but its instant in UTC falls outside the years 0001 to 9999.";

    /// <summary>Why <paramref name="text"/> was refused: the shape, or (shaped right, a real date and time) the range.</summary>
    public static string RuleFor(string? text)
    {
        if (text is null || Shape().Match(text) is not { Success: true } shape
            || !DateTime.TryParse($"{shape.Groups["date"].Value}T{shape.Groups["time"].Value}", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return Rule;
        }

        // An offset of more than 14 hours, or of 60 minutes or more, is malformed rather than out of range.
        var offset = shape.Groups["offset"].Value;
        var (hours, minutes) = offset.Length == 6 ? (int.Parse(offset[1..3], CultureInfo.InvariantCulture), int.Parse(offset[4..], CultureInfo.InvariantCulture)) : (0, 0);
        return minutes < 60 && (hours * 60) + minutes <= 14 * 60 ? RangeRule : Rule;
    }

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null || Shape().Match(text) is not { Success: true } shape)
        {
            return false;
        }

        // RFC 3339 allows a lower-case t and z and any number of fraction digits; the parser takes seven
        // at most, and the stores keep milliseconds, so the rest cannot matter.
        var fraction = shape.Groups["fraction"].Value;
        var normal = $"{shape.Groups["date"].Value}T{shape.Groups["time"].Value}{(fraction.Length > 8 ? fraction[..8] : fraction)}{shape.Groups["offset"].Value.ToUpperInvariant()}";
        if (!DateTimeOffset.TryParse(normal, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return false;
        }

        value = Rules.ToMillisecond(parsed);
        return true;
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})[Tt](?<time>\d{2}:\d{2}:\d{2})(?<fraction>\.\d{1,30})?(?<offset>[Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}

/// <summary>Reads an optional <see cref="Instant"/> in a request body; null stays null.</summary>
internal sealed class InstantConverter : JsonConverter<DateTimeOffset?>
{
    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = null;
        if (reader.TokenType == JsonTokenType.String)
        {
            try
            {
                text = reader.GetString();
            }
            catch (InvalidOperationException)
            {
                // Not valid text (a lone surrogate): refused below like any other bad date.
            }
        }

        return Instant.TryParse(text, out var value) ? value : throw new JsonFieldException(Instant.RuleFor(text));
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteStringValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>A field a converter refused, with the sentence that says why; <see cref="RequestBody"/> names the field.</summary>
internal sealed class JsonFieldException(string rule) : JsonException(rule)
{
    public string Rule { get; } = rule;
}

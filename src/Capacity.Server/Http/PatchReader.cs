using System.Text.Json;
using Capacity.Core;

namespace Capacity.Server.Http;

/// <summary>
/// Reads a PUT body field by field, because a partial update must tell "absent" (leave it) from
/// "null" (clear it), which typed deserialisation cannot. Collects one error per bad field.
/// </summary>
internal sealed class PatchReader
{
    public Dictionary<string, string[]> Errors { get; } = [];

    public static bool TryOpen(byte[] body, out JsonDocument? document, out string? error)
    {
        document = null;
        error = null;
        if (body.Length == 0)
        {
            error = "A JSON object body is required.";
            return false;
        }

        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            error = "The body is not valid JSON.";
            return false;
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            document = null;
            error = "The body must be a JSON object.";
            return false;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in document.RootElement.EnumerateObject())
        {
            // A name that is not valid text (a lone surrogate, bad UTF-8) cannot be a field of ours.
            string? name = null;
            try
            {
                name = p.Name;
            }
            catch (InvalidOperationException)
            {
                error = "A field name is not valid text.";
            }
            catch (ArgumentException)
            {
                error = "A field name is not valid text.";
            }

            if (error is null && seen.Add(name!))
            {
                continue;
            }

            error ??= $"{name} appears twice.";
            document.Dispose();
            document = null;
            return false;
        }

        return true;
    }

    public void Fail(string field, string message) => Errors[field] = [message];

    public Change<string> String(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.String)
        {
            try
            {
                return Change<string>.To(p.Value.GetString()!);
            }
            catch (InvalidOperationException)
            {
                Fail(p.Name, $"{p.Name} is not valid text (a lone surrogate or invalid UTF-8).");
                return default;
            }
        }

        Fail(p.Name, $"{p.Name} must be a string.");
        return default;
    }

    public Change<string?> NullableString(JsonProperty p) =>
        p.Value.ValueKind == JsonValueKind.Null ? Change<string?>.To(null) : Widen(String(p));

    public Change<int?> NullableInt(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Null)
        {
            return Change<int?>.To(null);
        }

        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out var value))
        {
            return Change<int?>.To(value);
        }

        Fail(p.Name, $"{p.Name} must be a whole number or null.");
        return default;
    }

    public Change<int> Int(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out var value))
        {
            return Change<int>.To(value);
        }

        Fail(p.Name, $"{p.Name} must be a whole number.");
        return default;
    }

    /// <summary>A date-time as <see cref="Instant"/> reads it, or null to clear it.</summary>
    public Change<DateTimeOffset?> NullableInstant(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Null)
        {
            return Change<DateTimeOffset?>.To(null);
        }

        string? text = null;
        if (p.Value.ValueKind == JsonValueKind.String)
        {
            try
            {
                text = p.Value.GetString();
            }
            catch (InvalidOperationException)
            {
                // Not valid text: refused below.
            }
        }

        if (Instant.TryParse(text, out var value))
        {
            return Change<DateTimeOffset?>.To(value);
        }

        Fail(p.Name, Instant.RuleFor(text) is var rule && rule == Instant.Rule ? $"{p.Name} {rule[..^1]}, or null." : $"{p.Name} {rule}");
        return default;
    }

    /// <summary>An id as a string, or null.</summary>
    public Change<Guid?> Id(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Null)
        {
            return Change<Guid?>.To(null);
        }

        if (p.Value.ValueKind == JsonValueKind.String && p.Value.TryGetGuid(out var id))
        {
            return Change<Guid?>.To(id);
        }

        Fail(p.Name, $"{p.Name} must be a capacity id, or null.");
        return default;
    }

    public Change<bool> Bool(JsonProperty p)
    {
        if (p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return Change<bool>.To(p.Value.GetBoolean());
        }

        Fail(p.Name, $"{p.Name} must be true or false.");
        return default;
    }

    public Change<decimal> Decimal(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Number && ExactDecimal.TooManyPlaces(System.Text.Encoding.UTF8.GetBytes(p.Value.GetRawText())))
        {
            Fail(p.Name, $"{p.Name} {ExactDecimal.Rule}");
            return default;
        }

        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDecimal(out var value))
        {
            return Change<decimal>.To(value);
        }

        Fail(p.Name, $"{p.Name} must be a number.");
        return default;
    }

    public Change<decimal?> NullableDecimal(JsonProperty p)
    {
        if (p.Value.ValueKind == JsonValueKind.Null)
        {
            return Change<decimal?>.To(null);
        }

        var d = Decimal(p);
        return d.IsSet ? Change<decimal?>.To(d.Value) : default;
    }

    private static Change<string?> Widen(Change<string> c) => c.IsSet ? Change<string?>.To(c.Value) : default;
}

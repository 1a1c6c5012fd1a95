using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Capacity.Client;

/// <summary>
/// A field of a partial update that is either absent (leave the stored value as it is) or set,
/// possibly to null (clear it). A plain nullable cannot tell the two apart, and for
/// <c>total_capacity</c> the difference matters: null means unlimited.
/// </summary>
/// <remarks>
/// Assign a value to set it (<c>TotalCapacity = 200</c>, or <c>TotalCapacity = null</c> to make
/// the capacity unlimited); leave the property alone to keep the stored value.
/// </remarks>
/// <typeparam name="T">The field's type; nullable when the API accepts null for it.</typeparam>
[JsonConverter(typeof(OptionalJsonConverterFactory))]
public readonly record struct Optional<T>
{
    /// <summary>A field that is sent, with <paramref name="value"/>.</summary>
    public Optional(T value)
    {
        Value = value;
        HasValue = true;
    }

    /// <summary>True when the field is sent; false when it is left out of the request.</summary>
    public bool HasValue { get; }

    /// <summary>The value to send; meaningful only when <see cref="HasValue"/> is true.</summary>
    public T Value { get; }

    /// <summary>Sets the field to <paramref name="value"/>, which may be null.</summary>
    public static implicit operator Optional<T>(T value) => new(value);
}

/// <summary>
/// Writes an <see cref="Optional{T}"/> as its value. Leaving absent fields out is the job of
/// <c>JsonIgnoreCondition.WhenWritingDefault</c> on each property, since the default of the
/// struct is "absent".
/// </summary>
internal sealed class OptionalJsonConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(Optional<>);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(OptionalJsonConverter<>).MakeGenericType(typeToConvert.GetGenericArguments()[0]))!;
}

internal sealed class OptionalJsonConverter<T> : JsonConverter<Optional<T>>
{
    // A JSON null is a value here ("clear it"), so the converter must see it rather than the serializer skipping it.
    public override bool HandleNull => true;

    public override Optional<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        new(JsonSerializer.Deserialize(ref reader, TypeInfo(options))!);

    public override void Write(Utf8JsonWriter writer, Optional<T> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Value, TypeInfo(options));

    private static JsonTypeInfo<T> TypeInfo(JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
}

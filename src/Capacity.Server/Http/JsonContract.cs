using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Capacity.Server.Http;

/// <summary>
/// The source-generated JSON contract the host was set up with. The root's <c>AppJson.ConfigureHost</c>
/// puts it first in the host options' resolver chain, so this layer and the features reach it through
/// the options instead of naming a type that lists every feature's records.
/// </summary>
internal static class JsonContract
{
    /// <summary>The generated context, or null when the options were set up without one.</summary>
    public static JsonSerializerContext? Of(JsonSerializerOptions host) =>
        host.TypeInfoResolverChain.Count > 0 ? host.TypeInfoResolverChain[0] as JsonSerializerContext : null;

    /// <summary>
    /// The context's own metadata for <typeparamref name="T"/>, with the context's strict options: never
    /// the host's web defaults, which would read names case-insensitively and numbers from strings.
    /// </summary>
    public static JsonTypeInfo<T> For<T>(JsonSerializerOptions host) =>
        Of(host)?.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the source-generated JSON contract.");
}

namespace Capacity.Server.Http;

/// <summary>
/// The closed set of values a string field of an answer takes, put in the OpenAPI document as its
/// <c>enum</c> (<c>Docs/ApiDocs</c>), so a client generated from the document gets an enum, not a
/// string. Given as the values, or as a core enum whose names the answer writes in lower case.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class OneOfAttribute : Attribute
{
    public OneOfAttribute(params string[] values) => Values = values;

    public OneOfAttribute(Type lowerCasedEnum) =>
        Values = [.. Enum.GetNames(lowerCasedEnum).Select(n => n.ToLowerInvariant())];

    public IReadOnlyList<string> Values { get; }
}

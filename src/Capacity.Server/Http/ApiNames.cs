using System.Collections.Frozen;

namespace Capacity.Server.Http;

/// <summary>
/// The name an answer gives a core enum's value: the value's name in lower case (what <see cref="OneOfAttribute"/>
/// lists for the field). Worked out once per enum: <c>ToString().ToLowerInvariant()</c> boxed the value and
/// built a new string every time, and every hold's answer, every listed reservation and every ledger entry of
/// a page names one.
/// </summary>
internal static class ApiNames
{
    public static string ApiName<T>(this T value) where T : struct, Enum => Names<T>.Of(value);

    private static class Names<T> where T : struct, Enum
    {
        private static readonly FrozenDictionary<T, string> ByValue =
            Enum.GetValues<T>().Distinct().ToFrozenDictionary(v => v, v => v.ToString().ToLowerInvariant());

        // A value outside the enum's names (a number) is named as before, at the old cost.
        public static string Of(T value) => ByValue.TryGetValue(value, out var name) ? name : value.ToString().ToLowerInvariant();
    }
}

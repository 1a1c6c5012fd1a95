using System.Buffers;
using System.Globalization;
using System.Text;

namespace Capacity.Core;

/// <summary>Shape rules shared by the core and the HTTP layer, so both say the same thing.</summary>
public static class Rules
{
    public const int MaxEventIdLength = 64;

    /// <summary>What <see cref="IsValidEventId"/> accepts, as the sentence every refusal of an event or schedule id ends with.</summary>
    public static readonly string EventIdRule = $"must be 1 to {MaxEventIdLength} letters, digits, '.', '_', ':' or '-'.";

    /// <summary>
    /// A webhook's URL as written: absolute, http or https, a host, no user information (a password in
    /// a URL ends up in logs) and no fragment (never sent). Whether its address may be called is the
    /// server's business: it depends on configuration and on DNS, and the core does no IO.
    /// </summary>
    public static bool IsValidWebhookUrl(string? value, int maxLength) =>
        value is { Length: > 0 } && value.Length <= maxLength
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && uri.Host.Length > 0 && uri.UserInfo.Length == 0 && uri.Fragment.Length == 0
        && !value.Any(char.IsControl) && !value.Contains(' ', StringComparison.Ordinal);

    /// <summary>Event and schedule ids are opaque: 1..64 of letters, digits, '.', '_', ':' and '-'.</summary>
    public static bool IsValidEventId(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxEventIdLength)
        {
            return false;
        }

        foreach (var ch in value)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public const int MaxBuyerKeyLength = 128;

    /// <summary>What <see cref="IsValidBuyerKey"/> accepts, as the sentence its refusal ends with.</summary>
    public static readonly string BuyerKeyRule = $"must be 1 to {MaxBuyerKeyLength} printable characters.";

    /// <summary>
    /// A buyer key is opaque (the platform sends a hash of an e-mail, an account or a card): 1..128
    /// printable characters, no control or format characters, not blank.
    /// </summary>
    public static bool IsValidBuyerKey(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxBuyerKeyLength)
        {
            return false;
        }

        foreach (var ch in value)
        {
            if (char.IsControl(ch) || char.GetUnicodeCategory(ch) == System.Globalization.UnicodeCategory.Format)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A quantity of one item: at least one ticket, at most the configured bound.</summary>
    public static bool IsValidQuantity(int quantity, CoreLimits limits) => quantity >= 1 && quantity <= limits.MaxQuantityPerItem;

    /// <summary>The sentence every refusal of a quantity ends with.</summary>
    public static string QuantityRule(CoreLimits limits) => $"must be between 1 and {limits.MaxQuantityPerItem}.";

    /// <summary>An ISO 4217 code's shape: three upper-case ASCII letters.</summary>
    public static bool IsValidCurrency(string? value) =>
        value is { Length: 3 } && char.IsAsciiLetterUpper(value[0]) && char.IsAsciiLetterUpper(value[1]) && char.IsAsciiLetterUpper(value[2]);

    /// <summary>
    /// A display name: not blank, at most <paramref name="maxLength"/> characters (Unicode code points,
    /// as JSON Schema's maxLength counts them, so an emoji is one), and none of the characters that
    /// draw nothing or change what is drawn around them, which make two names look alike or reorder
    /// what a screen shows: controls, format characters (zero-width spaces and joiners, but for a joiner
    /// between two emoji or a (non-)joiner between letters of the scripts that need one, and the tags of a
    /// subdivision flag, direction marks
    /// such as U+061C, bidi embeddings, overrides and isolates, the soft hyphen, the byte-order mark,
    /// tag characters), line and paragraph separators, and the fillers that render blank (the combining
    /// grapheme joiner, the Hangul fillers). Text that is not well-formed UTF-16 is refused too. A name
    /// of only blank braille cells (U+2800) is blank.
    /// </summary>
    public static bool IsValidName(string? value, int maxLength) => NameRefusal(value, maxLength) is null;

    /// <summary>
    /// Why <see cref="IsValidName"/> refuses a name, as a clause for its error's detail (a refused
    /// character by its code point and place, since an invisible one cannot be seen in the echo of the
    /// name), or null for a valid name.
    /// </summary>
    public static string? NameRefusal(string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "it is blank";
        }

        var (count, visible) = (0, false);
        var previous = default(Rune);
        for (var rest = value.AsSpan(); !rest.IsEmpty;)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != OperationStatus.Done)
            {
                return $"character {count + 1} is half of a surrogate pair";
            }

            if (++count > maxLength)
            {
                return $"it is longer than {maxLength} characters";
            }

            if (IsHidden(rune) && !JoinsEmoji(previous, rune, rest[used..]) && !JoinsLetters(previous, rune, rest[used..]) && !TagsAFlag(previous, rune))
            {
                return $"character {count} is U+{rune.Value:X4}, which draws nothing or changes what is drawn around it";
            }

            visible |= !Rune.IsWhiteSpace(rune) && rune.Value != 0x2800;
            previous = rune;
            rest = rest[used..];
        }

        return visible ? null : "it is blank";
    }

    /// <summary>
    /// A zero-width non-joiner or joiner between two letters (or marks) of the scripts that write with
    /// them: Persian and Urdu words (می‌خواهم), Devanagari and Sinhala conjuncts. Letters of those
    /// scripts are "other letters"; Latin, Greek and Cyrillic ones have case, and a joiner between them
    /// could only hide inside a word, so it stays refused there.
    /// </summary>
    private static bool JoinsLetters(Rune previous, Rune rune, ReadOnlySpan<char> rest) =>
        rune.Value is 0x200C or 0x200D
        && IsScriptLetter(previous)
        && Rune.DecodeFromUtf16(rest, out var next, out _) == OperationStatus.Done
        && IsScriptLetter(next);

    private static bool IsScriptLetter(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;

    /// <summary>
    /// The tag characters that make a black flag one of England, Scotland or Wales (🏴 then tags, ending
    /// with the cancel tag): allowed right after the flag or another tag, nowhere else.
    /// </summary>
    private static bool TagsAFlag(Rune previous, Rune rune) =>
        rune.Value is >= 0xE0020 and <= 0xE007F && (previous.Value == 0x1F3F4 || previous.Value is >= 0xE0020 and <= 0xE007E);

    /// <summary>
    /// A zero-width joiner between two emoji makes one picture of them (👨‍👩‍👧, 🏳️‍🌈, 👩‍💻): ordinary
    /// in a section's name ("Family ticket 👨‍👩‍👧", a Pride night). Between symbols only (the one before
    /// may end in a variation selector or a skin tone), never next to a letter, a space or another
    /// joiner, so it cannot hide inside a word.
    /// </summary>
    private static bool JoinsEmoji(Rune previous, Rune rune, ReadOnlySpan<char> rest) =>
        rune.Value == 0x200D
        && (previous.Value == 0xFE0F || Rune.GetUnicodeCategory(previous) is UnicodeCategory.OtherSymbol or UnicodeCategory.ModifierSymbol)
        && Rune.DecodeFromUtf16(rest, out var next, out _) == OperationStatus.Done
        && Rune.GetUnicodeCategory(next) == UnicodeCategory.OtherSymbol;

    /// <summary>
    /// A name an update leaves as stored is not judged again: it was taken under the rule in force then,
    /// and a rule made stricter since must not block a change of something else (a total, a switch).
    /// </summary>
    public static bool IsValidNameChange(string? value, string? stored, int maxLength) =>
        value == stored || IsValidName(value, maxLength);

    /// <summary>The sentence a refused name gets, after its field's name, and why this one was refused.</summary>
    public static string NameRule(string field, int maxLength, string? value)
    {
        var rule = $"{field} must be 1 to {maxLength} characters, not blank, without control, format or invisible characters (zero-width, direction marks, soft hyphens, blank fillers)";
        return NameRefusal(value, maxLength) is { } why ? $"{rule}: {why}." : $"{rule}.";
    }

    private static bool IsHidden(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        || rune.Value is 0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or 0x3164 or 0xFFA0;

    public const int MaxMetadataKeys = 16;
    public const int MaxMetadataKeyLength = 40;
    public const int MaxMetadataValueLength = 256;
    public const int MaxMetadataBytes = 4096;

    /// <summary>
    /// A hold's <c>external_ref</c> (1 to <see cref="CoreLimits.MaxExternalRefLength"/> characters, not blank, no control characters) and
    /// <c>metadata</c>: at most 16 keys of 1 to 40 characters, each once, string values of up to 256
    /// characters, no control characters anywhere (a NUL cannot be stored in a PostgreSQL text), and
    /// 4,096 bytes of UTF-8 in keys and values together. The refusal, or null when they pass.
    /// </summary>
    public static Outcome? CheckLabels(ReservationLabels labels, CoreLimits limits)
    {
        if (labels.ExternalRef is { } reference && !IsValidName(reference, limits.MaxExternalRefLength))
        {
            return Outcome.Invalid("external_ref", NameRule("external_ref", limits.MaxExternalRefLength, reference));
        }

        if (labels.Metadata is not { } metadata)
        {
            return null;
        }

        if (metadata.Length > MaxMetadataKeys)
        {
            return Outcome.Invalid("metadata", $"metadata has {metadata.Length} keys; at most {MaxMetadataKeys} are allowed.");
        }

        var bytes = 0;
        for (var i = 0; i < metadata.Length; i++)
        {
            var (key, value) = (metadata[i].Key, metadata[i].Value);
            if (!IsValidName(key, MaxMetadataKeyLength))
            {
                return Outcome.Invalid("metadata", NameRule("metadata keys", MaxMetadataKeyLength, key));
            }

            if (value is null || value.Length > MaxMetadataValueLength || value.Any(char.IsControl))
            {
                return Outcome.Invalid($"metadata.{key}", $"metadata values must be strings of up to {MaxMetadataValueLength} characters without control characters.");
            }

            for (var j = 0; j < i; j++)
            {
                if (metadata[j].Key == key)
                {
                    return Outcome.Invalid($"metadata.{key}", $"metadata key {key} is given twice.");
                }
            }

            bytes += System.Text.Encoding.UTF8.GetByteCount(key) + System.Text.Encoding.UTF8.GetByteCount(value);
        }

        return bytes > MaxMetadataBytes
            ? Outcome.Invalid("metadata", $"metadata holds {bytes} bytes of keys and values; at most {MaxMetadataBytes} are allowed.")
            : null;
    }

    /// <summary>
    /// An instant as a sentence names it: to the millisecond, as stored and as the answer's fields carry
    /// it (the round-trip format's seven digits named a precision nothing keeps), whatever the culture.
    /// </summary>
    public static string Instant(DateTimeOffset? at) =>
        at?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture) ?? "";

    /// <summary>An instant cut to the millisecond (UTC), as the stores keep every instant: a decision must not depend on precision a reload loses.</summary>
    public static DateTimeOffset ToMillisecond(DateTimeOffset at) => DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());

    /// <summary>Decimal places a price or fee may have.</summary>
    public const int MaxMoneyDecimals = 4;

    /// <summary>Decimal places a tax rate (a fraction of 1) may have.</summary>
    public const int MaxTaxRateDecimals = 6;

    /// <summary>
    /// Money: non-negative, bounded, at most <see cref="MaxMoneyDecimals"/> decimal places by value, so
    /// 1.00000000 (a NUMERIC column's rendering) is 1: only digits that change the amount count.
    /// </summary>
    public static bool IsValidMoney(decimal value, decimal max) => value >= 0 && value <= max && decimal.Round(value, MaxMoneyDecimals) == value;

    /// <summary>A tax rate: a fraction between 0 and 1, at most <see cref="MaxTaxRateDecimals"/> decimal places by value.</summary>
    public static bool IsValidTaxRate(decimal value) => value >= 0 && value <= 1 && decimal.Round(value, MaxTaxRateDecimals) == value;

    /// <summary>A valid amount with its trailing zeros past <paramref name="places"/> dropped (1.00000000 is kept as 1.0000), so what is stored and shown never has more places than the rule allows.</summary>
    public static decimal Trimmed(decimal value, int places) => value.Scale > places ? decimal.Round(value, places) : value;
}

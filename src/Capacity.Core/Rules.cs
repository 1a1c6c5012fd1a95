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
    /// A display name: not blank, not too long, no control characters, and none of the invisible ones
    /// that make two names look alike or reorder what a screen shows (zero-width spaces and joiners,
    /// direction marks, bidi embeddings, overrides and isolates, the byte-order mark).
    /// </summary>
    public static bool IsValidName(string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > maxLength)
        {
            return false;
        }

        foreach (var ch in value)
        {
            if (char.IsControl(ch) || IsInvisible(ch))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsInvisible(char ch) => ch is (>= '\u200B' and <= '\u200F') or (>= '\u202A' and <= '\u202E') or (>= '\u2060' and <= '\u2064')
        or (>= '\u2066' and <= '\u2069') or '\uFEFF';

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
            return Outcome.Invalid("external_ref", $"external_ref must be 1 to {limits.MaxExternalRefLength} characters, not blank, without control or invisible characters (zero-width, direction marks).");
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
                return Outcome.Invalid("metadata", $"metadata keys must be 1 to {MaxMetadataKeyLength} characters, not blank, without control or invisible characters (zero-width, direction marks).");
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

    /// <summary>Decimal places a price or fee may have.</summary>
    public const int MaxMoneyDecimals = 4;

    /// <summary>Decimal places a tax rate (a fraction of 1) may have.</summary>
    public const int MaxTaxRateDecimals = 6;

    /// <summary>Money: non-negative, bounded, at most <see cref="MaxMoneyDecimals"/> decimal places.</summary>
    public static bool IsValidMoney(decimal value, decimal max) => value >= 0 && value <= max && value.Scale <= MaxMoneyDecimals;

    /// <summary>A tax rate: a fraction between 0 and 1, at most <see cref="MaxTaxRateDecimals"/> decimal places.</summary>
    public static bool IsValidTaxRate(decimal value) => value >= 0 && value <= 1 && value.Scale <= MaxTaxRateDecimals;
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Capacity.Client;

/// <summary>
/// Checks that a webhook delivery came from Capacity, as the Standard Webhooks convention has it: the
/// <c>webhook-signature</c> header holds one or more space-separated <c>v1,</c> + base64 HMAC-SHA256
/// signatures over <c>{webhook-id}.{webhook-timestamp}.{body}</c>, keyed with the base64-decoded part of
/// the endpoint's <c>whsec_…</c> secret.
/// </summary>
/// <remarks>
/// Verify the body exactly as it arrived, before parsing it: re-serialised JSON does not match. A delivery
/// may arrive more than once (after a crash, or a retry whose first answer was lost) with the same
/// <c>webhook-id</c>: drop the ones already handled.
/// <code>
/// using var body = new MemoryStream();
/// await request.Body.CopyToAsync(body);
/// var headers = request.Headers;
/// if (!WebhookSignature.Verify(
///     secret, headers["webhook-id"].ToString(), headers["webhook-timestamp"].ToString(), headers["webhook-signature"].ToString(), body.ToArray()))
/// {
///     return Results.Unauthorized();
/// }
/// </code>
/// </remarks>
public static class WebhookSignature
{
    /// <summary>
    /// How far a delivery's timestamp may be from the receiver's clock, either way: an older one may be a
    /// recorded delivery played again by someone else.
    /// </summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private const string SecretPrefix = "whsec_";
    private const string SignaturePrefix = "v1,";

    /// <summary>
    /// Whether the delivery is signed with <paramref name="secret"/> and was sent within
    /// <see cref="DefaultTolerance"/> of the system clock's now.
    /// </summary>
    /// <param name="secret">The endpoint's secret, <c>whsec_</c> and base64, as created or rotated (the prefix may be left off).</param>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header: Unix seconds.</param>
    /// <param name="signatureHeader">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The request body, byte for byte as received.</param>
    /// <returns>True when the timestamp is recent and a signature matches.</returns>
    /// <exception cref="ArgumentException"><paramref name="secret"/> is not base64.</exception>
    public static bool Verify(string secret, string id, string timestamp, string signatureHeader, ReadOnlySpan<byte> body) =>
        Verify(secret, id, timestamp, signatureHeader, body, DateTimeOffset.UtcNow, DefaultTolerance);

    /// <summary>
    /// Whether the delivery is signed with <paramref name="secret"/> and its timestamp is within
    /// <paramref name="tolerance"/> of <paramref name="now"/>. Any one matching <c>v1</c> signature in the
    /// header is enough (there may be several while a secret is replaced); signatures of other versions are
    /// skipped. Malformed headers are a delivery that does not verify, not an exception.
    /// </summary>
    /// <param name="secret">The endpoint's secret, <c>whsec_</c> and base64, as created or rotated (the prefix may be left off).</param>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header: Unix seconds.</param>
    /// <param name="signatureHeader">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The request body, byte for byte as received.</param>
    /// <param name="now">The receiver's clock.</param>
    /// <param name="tolerance">How far the timestamp may be from <paramref name="now"/>, either way.</param>
    /// <returns>True when the timestamp is recent and a signature matches.</returns>
    /// <exception cref="ArgumentException">
    /// <paramref name="secret"/> is not base64: a configuration mistake, which would otherwise refuse every
    /// delivery without saying why.
    /// </exception>
    public static bool Verify(string secret, string id, string timestamp, string signatureHeader, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var key = Key(secret);
        if (id is null || signatureHeader is null
            || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        var sentAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if ((now - sentAt).Duration() > tolerance)
        {
            return false;
        }

        // The timestamp is signed as the header has it, so it is hashed as received, not re-formatted.
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key))
        {
            hmac.AppendData(Encoding.UTF8.GetBytes($"{id}.{timestamp}."));
            hmac.AppendData(body);
            hmac.GetHashAndReset(expected);
        }

        Span<byte> candidate = stackalloc byte[HMACSHA256.HashSizeInBytes];
        foreach (var signature in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (signature.StartsWith(SignaturePrefix, StringComparison.Ordinal)
                && Convert.TryFromBase64String(signature[SignaturePrefix.Length..], candidate, out var written)
                && written == candidate.Length
                && CryptographicOperations.FixedTimeEquals(candidate, expected))
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] Key(string secret)
    {
        var encoded = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret;
        try
        {
            return Convert.FromBase64String(encoded);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException("The secret is not a webhook secret (whsec_ and base64) as Capacity gave it.", nameof(secret), ex);
        }
    }
}

using System.Security.Cryptography;
using System.Text;

namespace Capacity.Server.Webhooks;

/// <summary>
/// Secrets and signatures as the Standard Webhooks convention has them: a secret is <c>whsec_</c> and
/// the base64 of 32 random bytes; a signature is <c>v1,</c> and the base64 of HMAC-SHA256 over
/// <c>{webhook-id}.{webhook-timestamp}.{body}</c> with those bytes as the key.
/// </summary>
internal static class WebhookSigner
{
    public const string SecretPrefix = "whsec_";

    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Sign(string secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }
}

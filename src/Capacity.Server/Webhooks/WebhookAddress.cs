using System.Net;
using System.Net.Sockets;

namespace Capacity.Server.Webhooks;

/// <summary>
/// Which addresses the server may call on a tenant's behalf. A URL is checked when it is subscribed (an
/// address written in it, or <c>localhost</c>) and every address a host name resolves to is checked
/// again when a delivery connects (<see cref="WebhookDispatcher"/>), so a name that points at the
/// server's own network later (DNS rebinding) is refused too.
/// </summary>
internal static class WebhookAddress
{
    /// <summary>Why the URL may not be subscribed, or null when it may.</summary>
    public static string? RefusalOf(string url, WebhookOptions options)
    {
        if (options.AllowPrivateNetworks || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            // A malformed URL is the core's refusal to make (400 VALIDATION_ERROR on url).
            return null;
        }

        var host = uri.IdnHost;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return $"{uri.Host} is this machine; webhooks are sent only to public addresses.";
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && !IsPublic(address)
            ? $"{address} is not a public address (loopback, link-local, private or reserved); webhooks are sent only to public addresses."
            : null;
    }

    /// <summary>Whether an address is on the public internet: not loopback, link-local, private, shared, multicast, unspecified or reserved.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)   // shared (carrier-grade NAT)
                || (b[0] == 169 && b[1] == 254)                   // link-local, cloud metadata
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)));
        }

        var v6 = address.GetAddressBytes();
        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (v6[0] & 0xFE) == 0xFC);                          // unique local fc00::/7
    }
}

using System.Net;
using System.Net.Sockets;

namespace Capacity.Server.Webhooks;

/// <summary>
/// Which addresses the server may call on a tenant's behalf, decided here for both checks. A URL is
/// checked when it is subscribed (an address written in it, or <c>localhost</c>; no name is resolved)
/// and again when a delivery connects (<see cref="WebhookDispatcher"/>): its name, then every address
/// it resolves to, so a name that points at the server's own network later (DNS rebinding) is refused too.
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
        if (IsLocalName(host))
        {
            return $"{uri.Host} is this machine; webhooks are sent only to public addresses.";
        }

        // Uri reads "127.0.0.1." as a host name; a resolver reads it as the address.
        return IPAddress.TryParse(host.Trim('[', ']').TrimEnd('.'), out var address) && !IsPublic(address)
            ? $"{address} is not a public address (loopback, link-local, private or reserved); webhooks are sent only to public addresses."
            : null;
    }

    /// <summary>
    /// Whether a host name is this machine's by the name alone: <c>localhost</c> and every name under it
    /// (RFC 6761), with or without the trailing dot of a fully-qualified name, which names the same host.
    /// </summary>
    public static bool IsLocalName(string host)
    {
        var name = host.TrimEnd('.');
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Whether an address is on the public internet: not loopback, link-local, private, shared, multicast,
    /// unspecified or reserved. An IPv6 address that carries an IPv4 one is judged by the IPv4 address.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && CarriedIPv4(address) is { } carried)
        {
            address = carried;
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
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)        // protocol assignments; documentation
                || (b[0] == 192 && b[1] == 88 && b[2] == 99)           // the 6to4 relays' anycast (deprecated)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))         // benchmarking
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)          // documentation
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));         // documentation
        }

        var v6 = address.GetAddressBytes();
        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (v6[0] & 0xFE) == 0xFC                            // unique local fc00::/7
            || v6.AsSpan(0, 6).SequenceEqual(Nat64LocalUse)       // the rest of 64:ff9b:1::/48 (see CarriedIPv4)
            || v6.AsSpan(0, 8).SequenceEqual(Discard)            // discard-only 100::/64
            || v6.AsSpan(0, 4).SequenceEqual(Documentation)      // documentation 2001:db8::/32
            || (v6[0] == 0x3F && v6[1] == 0xFF && v6[2] < 0x10)); // documentation 3fff::/20
    }

    // 64:ff9b::/96 and 64:ff9b:1::/48 (RFC 6052, RFC 8215).
    private static ReadOnlySpan<byte> Nat64WellKnown => [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0];

    private static ReadOnlySpan<byte> Nat64LocalUse => [0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01];

    private static ReadOnlySpan<byte> Discard => [0x01, 0x00, 0, 0, 0, 0, 0, 0];

    private static ReadOnlySpan<byte> Documentation => [0x20, 0x01, 0x0D, 0xB8];

    /// <summary>
    /// The IPv4 address an IPv6 address stands for, or null when it stands for none. A connection to one
    /// of these reaches that IPv4 address through a translator or a tunnel, which may sit inside the
    /// server's own network, so it is the IPv4 address that has to be public.
    /// </summary>
    private static IPAddress? CarriedIPv4(IPAddress address)
    {
        var b = address.GetAddressBytes();

        // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible: deprecated, but an automatic
        // tunnel still sends it to the IPv4 address). :: and ::1 come out as 0.0.0.0 and 0.0.0.1, not
        // public either.
        if (b.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0 && b[10] == b[11] && (b[10] is 0x00 or 0xFF))
        {
            return new IPAddress(b.AsSpan(12));
        }

        // ::ffff:0:a.b.c.d (IPv4-translated, SIIT: a stateless translator sends it to the IPv4 address).
        if (b.AsSpan(0, 8).IndexOfAnyExcept((byte)0) < 0 && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0)
        {
            return new IPAddress(b.AsSpan(12));
        }

        // NAT64, the well-known prefix: the last 32 bits. The local-use prefix is laid out as its operator
        // chooses (the IPv4 address sits elsewhere under a /48 to /64); only its /96 form, the rest zero,
        // can be read without knowing that, and IsPublic refuses the rest of the prefix.
        if (b.AsSpan(0, 12).SequenceEqual(Nat64WellKnown)
            || (b.AsSpan(0, 6).SequenceEqual(Nat64LocalUse) && b.AsSpan(6, 6).IndexOfAnyExcept((byte)0) < 0))
        {
            return new IPAddress(b.AsSpan(12));
        }

        // 6to4, 2002::/16: bits 16-47.
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return new IPAddress(b.AsSpan(2, 4));
        }

        // Teredo, 2001::/32: the client's address is the last 32 bits, each inverted.
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
        {
            return new IPAddress(new[] { (byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15] });
        }

        return null;
    }
}

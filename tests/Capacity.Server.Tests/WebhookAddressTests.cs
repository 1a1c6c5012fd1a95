using System.Net;
using System.Net.Sockets;
using Capacity.Server.Webhooks;

namespace Capacity.Server.Tests;

/// <summary>
/// The rule a delivery applies to every address its host resolves to (and a subscription to an address
/// written in its URL): an IPv6 address that carries an IPv4 one, by translation or tunnel, is judged by
/// the IPv4 address it carries.
/// </summary>
public sealed class WebhookAddressTests
{
    [Theory]
    [InlineData("::ffff:10.0.0.1")]                           // IPv4-mapped
    [InlineData("::127.0.0.1")]                               // IPv4-compatible
    [InlineData("::10.0.0.1")]
    [InlineData("64:ff9b::7f00:1")]                           // NAT64, well-known prefix
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("64:ff9b:1::7f00:1")]                         // NAT64, local-use prefix as a /96
    [InlineData("64:ff9b:1:a00:0:100::")]                     // NAT64, local-use prefix as a /48 (10.0.0.1 around the u octet)
    [InlineData("2002:7f00:1::")]                             // 6to4
    [InlineData("2002:c0a8:1::1")]
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe")]      // Teredo, client 127.0.0.1
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe")]      // Teredo, client 10.0.0.1
    [InlineData("::ffff:0:10.0.0.1")]                         // IPv4-translated (SIIT)
    [InlineData("::ffff:0:127.0.0.1")]
    public void An_address_that_carries_a_private_IPv4_address_is_not_public(string address)
    {
        Assert.False(WebhookAddress.IsPublic(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("64:ff9b:1::808:808")]
    [InlineData("2002:808:808::")]
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7")]      // Teredo, client 8.8.8.8
    [InlineData("::ffff:0:8.8.8.8")]
    public void A_public_address_is_public_however_it_is_carried(string address)
    {
        Assert.True(WebhookAddress.IsPublic(IPAddress.Parse(address)));
    }

    /// <summary>An attempt's error names its cause after HttpClient's words, once, as docs/webhooks.md shows.</summary>
    [Fact]
    public void A_failed_attempt_names_its_innermost_cause_after_httpclients_words_and_only_once()
    {
        var refused = new HttpRequestException("An error occurred while sending the request.", new SocketException((int)SocketError.ConnectionRefused));
        Assert.Equal(
            $"An error occurred while sending the request. (ConnectionRefused: {new SocketException((int)SocketError.ConnectionRefused).Message})",
            WebhookDispatcher.FailureText(refused));

        var ours = new HttpRequestException("x has no public address.");
        Assert.Equal("x has no public address. (x:443)", WebhookDispatcher.FailureText(new HttpRequestException("x has no public address. (x:443)", ours)));
        Assert.Equal("Plain.", WebhookDispatcher.FailureText(new HttpRequestException("Plain.")));
    }

    /// <summary>Ranges no host on the internet answers from: documentation examples, benchmarking, discard.</summary>
    [Theory]
    [InlineData("192.0.2.10")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.200")]
    [InlineData("198.18.0.1")]
    [InlineData("192.88.99.1")]
    [InlineData("2001:db8::1")]
    [InlineData("3fff:fff::1")]
    [InlineData("100::1")]
    [InlineData("::ffff:203.0.113.5")]                         // and carried in an IPv6 address
    [InlineData("2002:c000:20a::")]                            // 6to4 of 192.0.2.10
    public void An_address_reserved_for_examples_or_testing_is_not_public(string address)
    {
        Assert.False(WebhookAddress.IsPublic(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("192.0.3.1")]
    [InlineData("198.51.101.1")]
    [InlineData("203.0.114.1")]
    [InlineData("2001:db9::1")]
    [InlineData("3fff:1000::1")]
    [InlineData("100:0:0:1::1")]
    public void The_addresses_next_to_those_ranges_are_public(string address)
    {
        Assert.True(WebhookAddress.IsPublic(IPAddress.Parse(address)));
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Capacity.Client.Tests;

/// <summary>
/// Webhooks through the SDK against the real server: every method, partial updates, the refusals with their
/// codes, a delivery to a real receiver that <see cref="WebhookSignature"/> verifies, and the low watermark
/// on capacities. <paramref name="plain"/> is a server with the default settings, which refuses private addresses.
/// </summary>
public sealed class WebhookTests(WebhookHost host, CapacityHost plain) : IClassFixture<WebhookHost>, IClassFixture<CapacityHost>
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    [Fact]
    public async Task An_endpoint_is_created_with_its_secret_once_then_listed_read_updated_rotated_and_deleted()
    {
        var t = (await host.NewTenantAsync()).Client;

        var created = await t.CreateWebhookAsync(new CreateWebhookRequest
        {
            Url = "https://example.com/hooks/capacity",
            Events = [WebhookEventTypes.CapacitySoldOut, WebhookEventTypes.ReservationConfirmed],
            Description = "Box office",
        });
        Assert.StartsWith("whsec_", created.Secret, StringComparison.Ordinal);
        Assert.Equal(("https://example.com/hooks/capacity", "Box office", true, null, null), (created.Url, created.Description, created.Enabled, created.DisabledReason, created.FailingSince));
        Assert.Equal([WebhookEventTypes.CapacitySoldOut, WebhookEventTypes.ReservationConfirmed], created.Events);

        // The secret is shown once: no read shows it again.
        var read = await t.GetWebhookAsync(created.Id);
        Assert.Null(read.Secret);
        Assert.Equal(created with { Secret = null, Events = read.Events }, read);
        var listed = Assert.Single(await t.ListWebhooksAsync());
        Assert.Equal((created.Id, null), (listed.Id, listed.Secret));

        var rotated = await t.RotateWebhookSecretAsync(created.Id);
        Assert.StartsWith("whsec_", rotated.Secret, StringComparison.Ordinal);
        Assert.NotEqual(created.Secret, rotated.Secret);
        Assert.Null((await t.GetWebhookAsync(created.Id)).Secret);

        var none = await t.ListWebhookDeliveriesAsync(created.Id);
        Assert.Empty(none.Deliveries);
        Assert.Null(none.NextAfter);

        await t.DeleteWebhookAsync(created.Id);
        var gone = await Assert.ThrowsAsync<CapacityApiException>(() => t.GetWebhookAsync(created.Id));
        Assert.Equal((404, "NOT_FOUND"), (gone.Status, gone.Code));
        Assert.Empty(await t.ListWebhooksAsync());
    }

    [Fact]
    public async Task An_update_sends_only_the_fields_set_and_leaves_the_others_as_they_were()
    {
        var t = (await host.NewTenantAsync()).Client;
        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/a", Events = [WebhookEventTypes.CapacityLow], Description = "Ops" });

        var moved = await t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Url = "https://example.com/b" });
        Assert.Equal(("https://example.com/b", "Ops", true), (moved.Url, moved.Description, moved.Enabled));
        Assert.Equal([WebhookEventTypes.CapacityLow], moved.Events);
        Assert.Null(moved.Secret);

        var retyped = await t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Events = new[] { WebhookEventTypes.CapacitySoldOut, WebhookEventTypes.CapacityAvailable } });
        Assert.Equal([WebhookEventTypes.CapacitySoldOut, WebhookEventTypes.CapacityAvailable], retyped.Events);
        Assert.Equal(("https://example.com/b", "Ops"), (retyped.Url, retyped.Description));

        // Null is a value here: it clears the note, where leaving the field out keeps it.
        var cleared = await t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Description = null });
        Assert.Null(cleared.Description);

        var off = await t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Enabled = false });
        Assert.Equal((false, null), (off.Enabled, off.DisabledReason));
        Assert.Equal(("https://example.com/b", 2), (off.Url, off.Events.Count));
        Assert.True((await t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Enabled = true })).Enabled);
    }

    [Theory]
    [InlineData("http://10.0.0.1/x")]
    [InlineData("http://127.0.0.1:9/x")]
    [InlineData("http://localhost/x")]
    public async Task A_private_address_is_refused_as_WEBHOOK_URL_NOT_ALLOWED_by_a_server_that_does_not_allow_them(string url)
    {
        var t = (await plain.NewTenantAsync()).Client;

        var refused = await Assert.ThrowsAsync<CapacityApiException>(() => t.CreateWebhookAsync(new CreateWebhookRequest { Url = url, Events = [WebhookEventTypes.CapacityLow] }));
        Assert.Equal((400, "WEBHOOK_URL_NOT_ALLOWED"), (refused.Status, refused.Code));
        Assert.Empty(await t.ListWebhooksAsync());

        // Moving a public endpoint there is refused the same way, and changes nothing.
        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/x", Events = [WebhookEventTypes.CapacityLow] });
        var moved = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Url = url }));
        Assert.Equal((400, "WEBHOOK_URL_NOT_ALLOWED"), (moved.Status, moved.Code));
        Assert.Equal("https://example.com/x", (await t.GetWebhookAsync(hook.Id)).Url);
    }

    [Fact]
    public async Task Bad_input_and_ids_the_tenant_does_not_have_are_thrown_with_their_codes()
    {
        var t = (await host.NewTenantAsync()).Client;
        var other = (await host.NewTenantAsync("Other")).Client;

        var unknown = await Assert.ThrowsAsync<CapacityApiException>(() => t.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/x", Events = ["capacity.exploded"] }));
        Assert.Equal((400, "VALIDATION_ERROR"), (unknown.Status, unknown.Code));
        Assert.Contains("events", unknown.Errors.Keys);
        var ftp = await Assert.ThrowsAsync<CapacityApiException>(() => t.CreateWebhookAsync(new CreateWebhookRequest { Url = "ftp://example.com/x", Events = [WebhookEventTypes.CapacityLow] }));
        Assert.Equal((400, "VALIDATION_ERROR"), (ftp.Status, ftp.Code));
        Assert.Empty(await t.ListWebhooksAsync());

        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/x", Events = [WebhookEventTypes.CapacityLow] });
        var noEvents = await Assert.ThrowsAsync<CapacityApiException>(() => t.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Events = Array.Empty<string>() }));
        Assert.Equal((400, "VALIDATION_ERROR"), (noEvents.Status, noEvents.Code));

        foreach (var call in new Func<Task>[]
        {
            () => t.GetWebhookAsync(Guid.NewGuid()),
            () => t.RetryWebhookDeliveryAsync(hook.Id, 99),
            () => other.GetWebhookAsync(hook.Id),
            () => other.UpdateWebhookAsync(hook.Id, new UpdateWebhookRequest { Enabled = false }),
            () => other.RotateWebhookSecretAsync(hook.Id),
            () => other.ListWebhookDeliveriesAsync(hook.Id),
            () => other.DeleteWebhookAsync(hook.Id),
        })
        {
            var missing = await Assert.ThrowsAsync<CapacityApiException>(call);
            Assert.Equal((404, "NOT_FOUND"), (missing.Status, missing.Code));
        }

        Assert.True((await t.GetWebhookAsync(hook.Id)).Enabled);
    }

    [Fact]
    public void Verify_accepts_a_signature_made_as_the_server_makes_it()
    {
        var body = """{"id":"msg_1","type":"capacity.sold_out","data":{"available_capacity":0}}"""u8.ToArray();
        var now = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        Assert.True(WebhookSignature.Verify(Secret, "msg_1", timestamp, Sign(Secret, "msg_1", timestamp, body), body, now, WebhookSignature.DefaultTolerance));

        // Several signatures, as while a secret is replaced, and other versions: any v1 that matches is enough.
        var header = $"v1,{Convert.ToBase64String(new byte[32])} v2,whatever {Sign(Secret, "msg_1", timestamp, body)}";
        Assert.True(WebhookSignature.Verify(Secret, "msg_1", timestamp, header, body, now.AddMinutes(4), WebhookSignature.DefaultTolerance));

        // The secret without its prefix is the same key.
        Assert.True(WebhookSignature.Verify(Secret["whsec_".Length..], "msg_1", timestamp, Sign(Secret, "msg_1", timestamp, body), body, now, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Verify_refuses_a_changed_body_id_or_timestamp_a_wrong_secret_an_old_or_future_timestamp_and_malformed_headers()
    {
        var body = """{"id":"msg_1","type":"capacity.sold_out"}"""u8.ToArray();
        var now = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = Sign(Secret, "msg_1", timestamp, body);
        var tolerance = WebhookSignature.DefaultTolerance;

        var changed = body.ToArray();
        changed[^2] = (byte)'X';
        Assert.False(WebhookSignature.Verify(Secret, "msg_1", timestamp, signature, changed, now, tolerance));
        Assert.False(WebhookSignature.Verify(Secret, "msg_2", timestamp, signature, body, now, tolerance));
        var otherSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Assert.False(WebhookSignature.Verify(otherSecret, "msg_1", timestamp, signature, body, now, tolerance));

        // Signed correctly but sent too long ago, or too far ahead: a recording played again, or a wrong clock.
        Assert.False(WebhookSignature.Verify(Secret, "msg_1", timestamp, signature, body, now.AddMinutes(6), tolerance));
        Assert.False(WebhookSignature.Verify(Secret, "msg_1", timestamp, signature, body, now.AddMinutes(-6), tolerance));
        Assert.True(WebhookSignature.Verify(Secret, "msg_1", timestamp, signature, body, now.AddMinutes(6), TimeSpan.FromMinutes(10)));

        // A timestamp that is not the one signed, even if it is recent, does not verify.
        var later = (now.ToUnixTimeSeconds() + 1).ToString(CultureInfo.InvariantCulture);
        Assert.False(WebhookSignature.Verify(Secret, "msg_1", later, signature, body, now, tolerance));

        foreach (var (stamp, header) in new[]
        {
            ("not-a-number", signature), ("-1", signature), ("99999999999999999999", signature), ("", signature),
            (timestamp, ""), (timestamp, signature["v1,".Length..]), (timestamp, "v1,not base64!"), (timestamp, "v1," + Convert.ToBase64String(new byte[16])),
        })
        {
            Assert.False(WebhookSignature.Verify(Secret, "msg_1", stamp, header, body, now, tolerance));
        }

        Assert.Throws<ArgumentException>(() => WebhookSignature.Verify("whsec_not base64!", "msg_1", timestamp, signature, body, now, tolerance));
    }

    [Fact]
    public async Task A_sell_out_reaches_a_receiver_signed_so_that_Verify_accepts_it_and_a_retry_after_a_rotation_is_signed_with_the_new_secret()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var t = (await host.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 1 });
        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest { Url = receiver.Url, Events = [WebhookEventTypes.CapacitySoldOut] });

        await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 });
        var first = (await receiver.WaitForCountAsync(1))[0];
        Assert.Equal(WebhookEventTypes.CapacitySoldOut, first.Type);
        Assert.True(WebhookSignature.Verify(hook.Secret!, first.Id, first.Timestamp, first.Signature, first.Body));

        var delivery = await DeliveredAsync(t, hook.Id, 1);
        Assert.Equal((1L, first.Id, WebhookEventTypes.CapacitySoldOut, "gig"), (delivery.Id, delivery.MessageId.ToString(), delivery.Type, delivery.EventId));
        Assert.Equal((1, 200, null), (delivery.Attempts, delivery.LastStatusCode, delivery.LastError));
        Assert.NotNull(delivery.DeliveredAt);
        Assert.Null(delivery.NextAttemptAt);
        var attempt = Assert.Single(delivery.AttemptLog);
        Assert.Equal((1, 200, null), (attempt.Attempt, attempt.StatusCode, attempt.Error));

        var rotated = await t.RotateWebhookSecretAsync(hook.Id);
        var retried = await t.RetryWebhookDeliveryAsync(hook.Id, delivery.Id);
        Assert.Equal((1L, DeliveryStatus.Pending), (retried.Id, retried.Status));
        Assert.NotNull(retried.NextAttemptAt);

        // The same message, with the same webhook-id, by which a receiver drops the repeat; signed with the new secret only.
        var again = (await receiver.WaitForCountAsync(2))[1];
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(first.Body, again.Body);
        Assert.True(WebhookSignature.Verify(rotated.Secret!, again.Id, again.Timestamp, again.Signature, again.Body));
        Assert.False(WebhookSignature.Verify(hook.Secret!, again.Id, again.Timestamp, again.Signature, again.Body));
        Assert.Equal(2, (await DeliveredAsync(t, hook.Id, 1, attempts: 2)).Attempts);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_receiver_reads_each_delivered_body_as_a_message_whose_data_is_the_APIs_record_for_its_type()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;
        var floor = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 3 });
        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest
        {
            Url = receiver.Url,
            Events = [WebhookEventTypes.ReservationConfirmed, WebhookEventTypes.CapacitySoldOut, WebhookEventTypes.CapacityStateChanged, WebhookEventTypes.AllocationClosed],
        });

        var box = await t.CreateAllocationAsync(floor.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 1 });
        var sale = (await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 })).Reservation;
        await t.ConfirmAsync(sale.Id);
        await t.CloseAllocationAsync(box.Id);
        await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { IsActive = false });

        var received = await receiver.WaitForCountAsync(4);
        var messages = received.Select(r =>
        {
            Assert.True(WebhookSignature.Verify(hook.Secret!, r.Id, r.Timestamp, r.Signature, r.Body));
            return WebhookMessage.Parse(r.Body);
        }).ToList();
        Assert.Equal([1L, 2, 3, 4], messages.Select(m => m.Sequence));
        Assert.All(messages, m => Assert.Equal((tenant.Id, "gig"), (m.TenantId, m.EventId)));
        Assert.Equal(received.Select(r => r.Id), messages.Select(m => m.Id.ToString()));

        var soldOut = Assert.Single(messages, m => m.Type == WebhookEventTypes.CapacitySoldOut);
        Assert.Equal((floor.Id, 0L), (soldOut.Capacity()!.Id, soldOut.Capacity()!.AvailableCapacity));
        Assert.Null(soldOut.Reservation());
        var confirmed = Assert.Single(messages, m => m.Type == WebhookEventTypes.ReservationConfirmed);
        Assert.Equal((sale.Id, ReservationStatus.Confirmed, 2), (confirmed.Reservation()!.Id, confirmed.Reservation()!.Status, confirmed.Reservation()!.Items.Single().Quantity));
        Assert.Null(confirmed.Capacity());
        var closed = Assert.Single(messages, m => m.Type == WebhookEventTypes.AllocationClosed);
        Assert.Equal((box.Id, "Box office"), (closed.Allocation()!.Id, closed.Allocation()!.Name));
        var state = Assert.Single(messages, m => m.Type == WebhookEventTypes.CapacityStateChanged);
        Assert.Equal(("deactivated", false), (state.ChangeReason(), state.Capacity()!.IsActive));
        Assert.Null(soldOut.ChangeReason());
        Assert.Null(closed.WaitlistEntry());

        Assert.Throws<JsonException>(() => WebhookMessage.Parse("{}"u8));
        Assert.ThrowsAny<JsonException>(() => WebhookMessage.Parse("not json"u8));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Deliveries_are_listed_a_page_at_a_time_in_the_endpoints_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var t = (await host.NewTenantAsync()).Client;
        var floor = await t.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 10 });
        var hook = await t.CreateWebhookAsync(new CreateWebhookRequest { Url = receiver.Url, Events = [WebhookEventTypes.ReservationConfirmed] });
        for (var i = 0; i < 3; i++)
        {
            await t.ConfirmAsync((await t.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 })).Reservation.Id);
        }

        await receiver.WaitForCountAsync(3);
        await DeliveredAsync(t, hook.Id, 3);

        var page = await t.ListWebhookDeliveriesAsync(hook.Id, limit: 2);
        Assert.Equal([1L, 2L], page.Deliveries.Select(d => d.Id));
        Assert.Equal(2, page.NextAfter);
        var rest = await t.ListWebhookDeliveriesAsync(hook.Id, page.NextAfter, 2);
        Assert.Equal(3, Assert.Single(rest.Deliveries).Id);
        Assert.Null(rest.NextAfter);
        Assert.All(page.Deliveries.Concat(rest.Deliveries), d => Assert.Equal((WebhookEventTypes.ReservationConfirmed, DeliveryStatus.Delivered), (d.Type, d.Status)));
        Assert.Equal(receiver.Received.Select(r => r.Id), page.Deliveries.Concat(rest.Deliveries).Select(d => d.MessageId.ToString()));
    }

    [Fact]
    public async Task A_capacitys_low_watermark_is_set_on_creation_changed_kept_by_other_updates_and_removed_by_null()
    {
        var t = (await host.NewTenantAsync()).Client;
        var plainCapacity = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Plain", TotalCapacity = 50 });
        Assert.Null(plainCapacity.LowWatermark);

        var floor = await t.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 100, LowWatermark = 10 });
        Assert.Equal(10, floor.LowWatermark);
        Assert.Equal(10, (await t.GetCapacityAsync(floor.Id)).LowWatermark);

        Assert.Equal(5, (await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { LowWatermark = 5 })).LowWatermark);
        var renamed = await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { SectionName = "Stalls" });
        Assert.Equal(("Stalls", 5), (renamed.SectionName, renamed.LowWatermark));
        Assert.Null((await t.UpdateCapacityAsync(floor.Id, new UpdateCapacityRequest { LowWatermark = null })).LowWatermark);
        Assert.Null((await t.GetCapacityAsync(floor.Id)).LowWatermark);
    }

    /// <summary>The signature as Standard Webhooks define it, computed here independently of the server and the SDK.</summary>
    private static string Sign(string secret, string id, string timestamp, byte[] body)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body];
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }

    /// <summary>
    /// The endpoint's delivery <paramref name="id"/> once it is delivered after <paramref name="attempts"/> attempts: the
    /// receiver has a delivery a moment before the server records its answer.
    /// </summary>
    internal static async Task<WebhookDelivery> DeliveredAsync(CapacityClient client, Guid webhookId, long id, int attempts = 1)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var page = await client.ListWebhookDeliveriesAsync(webhookId, id - 1, 1);
            if (page.Deliveries is [{ Status: DeliveryStatus.Delivered } delivery] && delivery.Id == id && delivery.Attempts >= attempts)
            {
                return delivery;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Delivery {id} of webhook {webhookId} was not delivered within 20 s.");
            await Task.Delay(25);
        }
    }
}

using System.Diagnostics;
using System.Text.Json;
using Capacity.Cli;

namespace Capacity.Client.Tests;

/// <summary>The <c>capacity webhooks</c> commands, run in process against a server that may call a receiver on 127.0.0.1.</summary>
public sealed class WebhookCliTests(WebhookHost host) : IClassFixture<WebhookHost>
{
    [Fact]
    public async Task Webhooks_create_prints_the_secret_once_and_list_show_and_delete_follow_the_endpoint()
    {
        var tenant = await host.NewTenantAsync();

        var create = await host.RunCliAsync(
            "webhooks", "create", "https://example.com/hooks", "--events", "capacity.sold_out,reservation.confirmed", "--description", "Box office", "--key", tenant.Key);
        Assert.True(create.ExitCode == ExitCodes.Ok, create.Error);
        Assert.Equal("https://example.com/hooks", Pair(create.Output, "Url"));
        Assert.Equal("Box office", Pair(create.Output, "Description"));
        Assert.Equal("enabled", Pair(create.Output, "Status"));
        Assert.Matches("^whsec_[A-Za-z0-9+/=]+ \\(shown once: store it now\\)$", Pair(create.Output, "Secret"));
        var id = Pair(create.Output, "Webhook");

        var json = await host.RunCliAsync("webhooks", "create", "https://example.com/other", "-e", "capacity.low", "-e", "capacity.available", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, json.ExitCode);
        string other;
        using (var created = JsonDocument.Parse(json.Output))
        {
            var w = created.RootElement;
            other = w.GetProperty("id").GetString()!;
            Assert.StartsWith("whsec_", w.GetProperty("secret").GetString(), StringComparison.Ordinal);
            // The service lists them in its own order, whatever the order given.
            Assert.Equal(["capacity.available", "capacity.low"], w.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(JsonValueKind.Null, w.GetProperty("disabled_reason").ValueKind);
        }

        var list = await host.RunCliAsync("webhooks", "list", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        var row = Assert.Single(list.Output.Split('\n'), l => l.Contains(id, StringComparison.Ordinal));
        Assert.Contains("https://example.com/hooks", row, StringComparison.Ordinal);
        Assert.Contains("capacity.sold_out", row, StringComparison.Ordinal);
        Assert.Contains("enabled", row, StringComparison.Ordinal);
        Assert.Contains(other, list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", list.Output, StringComparison.Ordinal);

        var show = await host.RunCliAsync("webhooks", "show", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.Equal(id, Pair(show.Output, "Webhook"));
        Assert.Contains("No deliveries yet.", show.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", show.Output, StringComparison.Ordinal);

        var rotate = await host.RunCliAsync("webhooks", "rotate-secret", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, rotate.ExitCode);
        Assert.EndsWith("(shown once: store it now)", Pair(rotate.Output, "Secret"), StringComparison.Ordinal);
        Assert.NotEqual(Pair(create.Output, "Secret"), Pair(rotate.Output, "Secret"));

        var delete = await host.RunCliAsync("webhooks", "delete", id, "--key", tenant.Key);
        Assert.Equal((ExitCodes.Ok, $"Deleted webhook {id}."), (delete.ExitCode, delete.Output.Trim()));
        var again = await host.RunCliAsync("webhooks", "delete", id, "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.NotFound, again.ExitCode);
        using (var problem = JsonDocument.Parse(again.Error))
        {
            Assert.Equal("NOT_FOUND", problem.RootElement.GetProperty("code").GetString());
        }

        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("webhooks", "show", id, "--key", tenant.Key)).ExitCode);
        var left = await host.RunCliAsync("webhooks", "list", "--json", "--key", tenant.Key);
        using (var remaining = JsonDocument.Parse(left.Output))
        {
            Assert.Equal([other], remaining.RootElement.GetProperty("webhooks").EnumerateArray().Select(w => w.GetProperty("id").GetString()));
        }
    }

    [Fact]
    public async Task Webhooks_rotate_secret_run_again_with_the_same_key_exits_7_and_says_to_rotate_rather_than_printing_no_secret()
    {
        var tenant = await host.NewTenantAsync();
        var hook = await tenant.Client.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/hooks", Events = [WebhookEventTypes.CapacityLow] });
        var key = "rotate-" + Guid.NewGuid().ToString("N");

        var first = await host.RunCliAsync("webhooks", "rotate-secret", hook.Id.ToString(), "--key", tenant.Key, "--idempotency-key", key);
        var second = await host.RunCliAsync("webhooks", "rotate-secret", hook.Id.ToString(), "--key", tenant.Key, "--idempotency-key", key);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Contains("whsec_", first.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.ApiError, second.ExitCode);
        Assert.Equal("", second.Output);
        var line = Assert.Single(second.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains($"capacity webhooks rotate-secret {hook.Id}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhooks_deliveries_and_show_list_what_was_sent_and_retry_sends_a_delivery_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await host.NewTenantAsync();
        var floor = await tenant.Client.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 10 });
        var create = await host.RunCliAsync("webhooks", "create", receiver.Url, "--events", "reservation.confirmed", "--json", "--key", tenant.Key);
        Assert.True(create.ExitCode == ExitCodes.Ok, create.Error);
        Guid id;
        using (var created = JsonDocument.Parse(create.Output))
        {
            id = created.RootElement.GetProperty("id").GetGuid();
        }

        for (var i = 0; i < 3; i++)
        {
            await tenant.Client.ConfirmAsync((await tenant.Client.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 })).Reservation.Id);
        }

        await receiver.WaitForCountAsync(3);
        await WebhookTests.DeliveredAsync(tenant.Client, id, 3);

        var page = await host.RunCliAsync("webhooks", "deliveries", id.ToString(), "--limit", "2", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, page.ExitCode);
        Assert.Equal(2, page.Output.Split('\n').Count(l => l.Contains("reservation.confirmed", StringComparison.Ordinal)));
        Assert.Contains("More: --after 2, or --all", page.Output, StringComparison.Ordinal);
        var row = page.Output.Split('\n').First(l => l.Contains("reservation.confirmed", StringComparison.Ordinal));
        Assert.StartsWith("│        1 │", row, StringComparison.Ordinal);
        Assert.Contains("gig", row, StringComparison.Ordinal);
        Assert.Contains("delivered", row, StringComparison.Ordinal);
        Assert.Contains("│ 200 ", row, StringComparison.Ordinal);

        var all = await host.RunCliAsync("webhooks", "deliveries", id.ToString(), "--limit", "2", "--all", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, all.ExitCode);
        using (var deliveries = JsonDocument.Parse(all.Output))
        {
            var list = deliveries.RootElement.GetProperty("deliveries").EnumerateArray().ToList();
            Assert.Equal([1L, 2L, 3L], list.Select(d => d.GetProperty("id").GetInt64()));
            Assert.Equal(receiver.Received.Select(r => r.Id), list.Select(d => d.GetProperty("message_id").GetString()));
            Assert.All(list, d => Assert.Equal(200, d.GetProperty("attempt_log")[0].GetProperty("status_code").GetInt32()));
            Assert.Equal(JsonValueKind.Null, deliveries.RootElement.GetProperty("next_after").ValueKind);
        }

        var show = await host.RunCliAsync("webhooks", "show", id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.Equal(receiver.Url, Pair(show.Output, "Url"));
        Assert.Equal(3, show.Output.Split('\n').Count(l => l.Contains("reservation.confirmed", StringComparison.Ordinal) && l.Contains("delivered", StringComparison.Ordinal)));
        var showJson = await host.RunCliAsync("webhooks", "show", id.ToString(), "--json", "--key", tenant.Key);
        using (var view = JsonDocument.Parse(showJson.Output))
        {
            Assert.Equal(id, view.RootElement.GetProperty("webhook").GetProperty("id").GetGuid());
            Assert.Equal([1L, 2L, 3L], view.RootElement.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("id").GetInt64()));
        }

        var retry = await host.RunCliAsync("webhooks", "retry", id.ToString(), "2", "--key", tenant.Key);
        Assert.True(retry.ExitCode == ExitCodes.Ok, retry.Error);
        Assert.Equal("2", Pair(retry.Output, "Delivery"));
        Assert.StartsWith("pending", Pair(retry.Output, "Status"), StringComparison.Ordinal);
        var resent = (await receiver.WaitForCountAsync(4))[3];
        Assert.Equal(receiver.Received[1].Id, resent.Id);

        var unknown = await host.RunCliAsync("webhooks", "retry", id.ToString(), "99", "--key", tenant.Key);
        Assert.Equal(ExitCodes.NotFound, unknown.ExitCode);
        Assert.Contains("NOT_FOUND", unknown.Error, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Webhooks_show_lists_only_the_newest_deliveries_of_a_long_log()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await host.NewTenantAsync();
        var floor = await tenant.Client.CreateCapacityAsync("tour", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 100 });
        var hook = await tenant.Client.CreateWebhookAsync(new CreateWebhookRequest { Url = receiver.Url, Events = [WebhookEventTypes.ReservationReleased] });
        for (var i = 0; i < 13; i++)
        {
            await tenant.Client.ReleaseAsync((await tenant.Client.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 })).Reservation.Id);
        }

        await receiver.WaitForCountAsync(13);

        var show = await host.RunCliAsync("webhooks", "show", hook.Id.ToString(), "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        using var view = JsonDocument.Parse(show.Output);
        Assert.Equal([.. Enumerable.Range(4, 10).Select(i => (long)i)], view.RootElement.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("id").GetInt64()));
    }

    [Fact]
    public async Task Webhooks_update_changes_only_what_it_is_given()
    {
        var tenant = await host.NewTenantAsync();
        var hook = await tenant.Client.CreateWebhookAsync(new CreateWebhookRequest { Url = "https://example.com/a", Events = [WebhookEventTypes.CapacityLow], Description = "Ops" });
        var id = hook.Id.ToString();

        var off = await host.RunCliAsync("webhooks", "update", id, "--disable", "--key", tenant.Key);
        Assert.True(off.ExitCode == ExitCodes.Ok, off.Error);
        Assert.Equal(("disabled", "Ops", "https://example.com/a"), (Pair(off.Output, "Status"), Pair(off.Output, "Description"), Pair(off.Output, "Url")));

        var moved = await host.RunCliAsync(
            "webhooks", "update", id, "--webhook-url", "https://example.com/b", "--events", "capacity.sold_out,capacity.available", "--no-description", "--enable", "--json", "--key", tenant.Key);
        Assert.True(moved.ExitCode == ExitCodes.Ok, moved.Error);
        using (var updated = JsonDocument.Parse(moved.Output))
        {
            var w = updated.RootElement;
            Assert.Equal(("https://example.com/b", true, JsonValueKind.Null, JsonValueKind.Null), (w.GetProperty("url").GetString(), w.GetProperty("enabled").GetBoolean(),
                w.GetProperty("description").ValueKind, w.GetProperty("secret").ValueKind));
            Assert.Equal(["capacity.sold_out", "capacity.available"], w.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        }

        var named = await host.RunCliAsync("webhooks", "update", id, "-d", "Night shift", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, named.ExitCode);
        var kept = await tenant.Client.GetWebhookAsync(hook.Id);
        Assert.Equal(("https://example.com/b", "Night shift", true, 2), (kept.Url, kept.Description, kept.Enabled, kept.Events.Count));

        var unknown = await host.RunCliAsync("webhooks", "update", id, "--events", "capacity.exploded", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, unknown.ExitCode);
        Assert.Contains("VALIDATION_ERROR", unknown.Error, StringComparison.Ordinal);

        // Its one field's message is the detail: said once, not again under it.
        Assert.Contains("events must be", Assert.Single(unknown.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_webhooks_command_line_the_command_cannot_read_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var args in new[]
        {
            new[] { "webhooks", "create", "https://example.com/x" },
            ["webhooks", "create", "--events", "capacity.low"],
            ["webhooks", "create", "https://example.com/x", "--events", ","],
            ["webhooks", "show", "not-a-guid"],
            ["webhooks", "update", id],
            ["webhooks", "update", id, "--enable", "--disable"],
            ["webhooks", "update", id, "--description", "x", "--no-description"],
            ["webhooks", "deliveries", id, "--after", "x"],
            ["webhooks", "retry", id],
            ["webhooks", "retry", id, "first"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
        }

        Assert.Equal(0, stub.Calls);
    }

    private static string Pair(string output, string name) =>
        Assert.Single(output.Split('\n'), l => l.StartsWith(name + "  ", StringComparison.Ordinal))[name.Length..].Trim();
}

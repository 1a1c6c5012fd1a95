using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Capacity.Cli;
using Spectre.Console;

namespace Capacity.Client.Tests;

/// <summary>The capacity command, run in process against the real server.</summary>
public sealed class CliTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task Tenants_create_prints_the_new_key_once_and_tenants_keys_issues_another()
    {
        var created = await host.RunCliAsync("tenants", "create", "Opera House", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, created.ExitCode);
        Assert.Contains("Opera House", created.Output, StringComparison.Ordinal);
        Assert.Contains("cap_", created.Output, StringComparison.Ordinal);

        var json = await host.RunCliAsync("tenants", "create", "Ballet", "--json", "--key", CapacityHost.AdminKey);
        using var tenant = JsonDocument.Parse(json.Output);
        var tenantId = tenant.RootElement.GetProperty("tenant_id").GetString()!;
        Assert.Equal("Ballet", tenant.RootElement.GetProperty("name").GetString());

        var issued = await host.RunCliAsync("tenants", "keys", tenantId, "--json", "--key", CapacityHost.AdminKey);
        Assert.Equal(ExitCodes.Ok, issued.ExitCode);
        using var key = JsonDocument.Parse(issued.Output);
        Assert.Equal(tenantId, key.RootElement.GetProperty("tenant_id").GetString());
        Assert.NotEqual(tenant.RootElement.GetProperty("api_key").GetString(), key.RootElement.GetProperty("api_key").GetString());
    }

    [Fact]
    public async Task The_admin_key_may_come_from_CAPACITY_ADMIN_KEY_and_without_any_key_it_is_a_usage_error()
    {
        var fromEnvironment = await host.RunCliAsync(["verify"], new() { ["CAPACITY_ADMIN_KEY"] = CapacityHost.AdminKey, ["CAPACITY_KEY"] = "cap_tenant" }, default);
        Assert.Equal(ExitCodes.Ok, fromEnvironment.ExitCode);
        Assert.Contains("OK", fromEnvironment.Output, StringComparison.Ordinal);

        var none = await host.RunCliAsync("verify");
        Assert.Equal(ExitCodes.Usage, none.ExitCode);
        Assert.Contains("CAPACITY_ADMIN_KEY", none.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_show_draws_pools_as_a_tree_with_counters_bars_and_totals()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, child) = await TheatreAsync(tenant.Client, "play-789");
        await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 10 });
        var sold = await tenant.Client.ReserveAsync(child.Id, new ReserveRequest { Quantity = 40 });
        await tenant.Client.ConfirmAsync(sold.Reservation.Id);

        var run = await host.RunCliAsync("events", "show", "play-789", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var lines = run.Output.Split('\n');
        var poolRow = Assert.Single(lines, l => l.Contains(pool.Id.ToString(), StringComparison.Ordinal));
        var adultRow = Assert.Single(lines, l => l.Contains(adult.Id.ToString(), StringComparison.Ordinal));
        var childRow = Assert.Single(lines, l => l.Contains(child.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains("Theatre", poolRow, StringComparison.Ordinal);
        Assert.Contains("├─ Adult", adultRow, StringComparison.Ordinal);
        Assert.Contains("└─ Child", childRow, StringComparison.Ordinal);
        Assert.True(Array.IndexOf(lines, poolRow) < Array.IndexOf(lines, adultRow) && Array.IndexOf(lines, adultRow) < Array.IndexOf(lines, childRow));

        // Pool: 100 seats, 40 sold, 10 reserved, 50 available: 8 + 2 + 10 cells of the 20-cell bar.
        Assert.Contains("own", poolRow, StringComparison.Ordinal);
        Assert.Contains("████████▒▒░░░░░░░░░░", poolRow, StringComparison.Ordinal);
        Assert.Contains("capped", adultRow, StringComparison.Ordinal);
        Assert.Contains("shared", childRow, StringComparison.Ordinal);
        Assert.Contains("Totals over the roots: 100 total, 50 available, 10 reserved, 40 sold", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_show_json_prints_the_capacities_and_totals_as_the_API_names_them()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, _, _) = await TheatreAsync(tenant.Client, "gala");

        var run = await host.RunCliAsync("events", "show", "gala", "--json", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Output);
        var root = doc.RootElement;
        Assert.Equal("gala", root.GetProperty("event_id").GetString());
        var first = root.GetProperty("capacity")[0];
        Assert.Equal(pool.Id, first.GetProperty("id").GetGuid());
        Assert.Equal("own", first.GetProperty("mode").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("section_code").ValueKind);
        Assert.Equal(100, root.GetProperty("totals").GetProperty("total_capacity").GetInt64());
    }

    [Fact]
    public async Task Events_list_shows_each_event_and_an_unknown_event_is_not_found()
    {
        var tenant = await host.NewTenantAsync();
        await TheatreAsync(tenant.Client, "night-1");

        var list = await host.RunCliAsync("events", "list", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        Assert.Contains("night-1", list.Output, StringComparison.Ordinal);

        var json = await host.RunCliAsync("events", "list", "--json", "--key", tenant.Key);
        using var doc = JsonDocument.Parse(json.Output);
        Assert.Equal(3, doc.RootElement.GetProperty("events")[0].GetProperty("capacities").GetInt32());

        var missing = await host.RunCliAsync("events", "show", "no-such-event", "--key", tenant.Key);
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Contains("no-such-event", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_then_confirm_prints_the_hold_and_then_the_sale()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "play");
        var price = await tenant.Client.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 10m, Currency = "EUR" });

        var reserve = await host.RunCliAsync(
            "reserve", adult.Id.ToString(), "--quantity", "2", "--minutes", "5", "--pricing", price.Id.ToString(), "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, reserve.ExitCode);
        using var held = JsonDocument.Parse(reserve.Output);
        var reservationId = held.RootElement.GetProperty("reservation").GetProperty("id").GetString()!;
        Assert.Equal("active", held.RootElement.GetProperty("reservation").GetProperty("status").GetString());
        Assert.Equal(10m, held.RootElement.GetProperty("locked_price").GetProperty("unit_price").GetDecimal());
        Assert.Equal(48, held.RootElement.GetProperty("capacity").GetProperty("available_capacity").GetInt64());

        var confirm = await host.RunCliAsync("confirm", reservationId, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, confirm.ExitCode);
        Assert.Contains(reservationId, confirm.Output, StringComparison.Ordinal);
        Assert.Contains("confirmed", confirm.Output, StringComparison.Ordinal);
        Assert.Contains("20.00 EUR", confirm.Output, StringComparison.Ordinal);
        Assert.Equal(2, (await tenant.Client.GetCapacityAsync(adult.Id)).SoldCount);
    }

    [Fact]
    public async Task Release_gives_the_tickets_back_and_a_second_confirm_of_it_is_a_conflict()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "play");

        var reserve = await host.RunCliAsync("reserve", adult.Id.ToString(), "-q", "3", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, reserve.ExitCode);
        Assert.Contains("Now available", reserve.Output, StringComparison.Ordinal);
        var hold = Assert.NotNull((await tenant.Client.GetLedgerAsync("play")).Entries[0].ReservationId);

        var release = await host.RunCliAsync("release", hold.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, release.ExitCode);
        Assert.Contains("released", release.Output, StringComparison.Ordinal);
        Assert.Equal(50, (await tenant.Client.GetCapacityAsync(adult.Id)).AvailableCapacity);

        var confirm = await host.RunCliAsync("confirm", hold.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, confirm.ExitCode);
        Assert.Contains("RESERVATION_NOT_ACTIVE", confirm.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pricing_commands_create_list_and_update_a_price_and_a_hold_keeps_the_price_it_locked()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "priced");

        var create = await host.RunCliAsync(
            "pricing", "create", adult.Id.ToString(), "--name", "Adult", "--price", "40", "--currency", "EUR", "--service-fee", "2.5", "--tax-rate", "0.2", "--json", "--key", tenant.Key);
        Assert.True(create.ExitCode == ExitCodes.Ok, create.Error);
        string id;
        using (var created = JsonDocument.Parse(create.Output))
        {
            var p = created.RootElement;
            id = p.GetProperty("id").GetString()!;
            Assert.Equal((adult.Id, "Adult", 40m, 40m, 2.5m, 0m, 0.2m, "EUR"), (p.GetProperty("capacity_id").GetGuid(), p.GetProperty("name").GetString(),
                p.GetProperty("base_price").GetDecimal(), p.GetProperty("unit_price").GetDecimal(), p.GetProperty("service_fee").GetDecimal(),
                p.GetProperty("facility_fee").GetDecimal(), p.GetProperty("tax_rate").GetDecimal(), p.GetProperty("currency").GetString()));
            Assert.Equal(JsonValueKind.Null, p.GetProperty("current_price").ValueKind);
        }

        var hold = (await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 2, PricingId = Guid.Parse(id) })).Reservation;

        var discount = await host.RunCliAsync("pricing", "update", id, "--current-price", "30", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, discount.ExitCode);
        Assert.StartsWith("30.00 EUR (what a hold locks now: the current price)", Pair(discount.Output, "Unit price"), StringComparison.Ordinal);
        Assert.Equal(("40.00 EUR", "30.00 EUR", "0.2 (20%)"), (Pair(discount.Output, "List price"), Pair(discount.Output, "Current price"), Pair(discount.Output, "Tax rate")));

        var list = await host.RunCliAsync("pricing", "list", adult.Id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        var row = Assert.Single(list.Output.Split('\n'), l => l.Contains(id, StringComparison.Ordinal));
        Assert.Equal(["Adult", id, "30.00 EUR", "40.00 EUR", "30.00 EUR", "2.50 EUR", "0.00 EUR", "0.2 (20%)"], row.Split('│', StringSplitOptions.TrimEntries)[1..^1]);

        // Amounts have their currency's digits: none for yen, three for dinars.
        foreach (var (currency, price, shown) in new[] { ("JPY", "1500", "1500 JPY"), ("BHD", "1.235", "1.235 BHD") })
        {
            var other = await host.RunCliAsync("pricing", "create", adult.Id.ToString(), "--name", currency, "--price", price, "--currency", currency, "--key", tenant.Key);
            Assert.True(other.ExitCode == ExitCodes.Ok, other.Error);
            Assert.StartsWith($"{shown} (what a hold locks now: the list price)", Pair(other.Output, "Unit price"), StringComparison.Ordinal);
        }

        // The hold placed before the discount keeps the price it locked.
        var show = await host.RunCliAsync("reservations", "show", hold.Id.ToString(), "--key", tenant.Key);
        Assert.Equal($"2 × {adult.Id} at 40.00 EUR (Adult)", Pair(show.Output, "Item"));

        var back = await host.RunCliAsync("pricing", "update", id, "--no-current-price", "--name", "Adult (full)", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, back.ExitCode);
        using (var updated = JsonDocument.Parse(back.Output))
        {
            Assert.Equal(("Adult (full)", 40m, JsonValueKind.Null), (updated.RootElement.GetProperty("name").GetString(),
                updated.RootElement.GetProperty("unit_price").GetDecimal(), updated.RootElement.GetProperty("current_price").ValueKind));
        }

        Assert.Equal("Adult (full)", Pair((await host.RunCliAsync("pricing", "show", id, "--key", tenant.Key)).Output, "Name"));
        var badRate = await host.RunCliAsync("pricing", "update", id, "--tax-rate", "2", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, badRate.ExitCode);
        Assert.Contains("tax_rate", badRate.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("pricing", "update", id, "--key", tenant.Key)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("pricing", "update", id, "--current-price", "1", "--no-current-price", "--key", tenant.Key)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("pricing", "create", adult.Id.ToString(), "--name", "X", "--price", "cheap", "--currency", "EUR", "--key", tenant.Key)).ExitCode);
    }

    [Fact]
    public async Task Allocations_commands_create_list_resize_release_and_close_an_allocation()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, _, _) = await TheatreAsync(tenant.Client, "gala");

        var create = await host.RunCliAsync(
            "allocations", "create", pool.Id.ToString(), "--name", "Box office", "-q", "20", "--expires", "2030-05-01T18:00:00Z", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, create.ExitCode);
        using var created = JsonDocument.Parse(create.Output);
        var id = created.RootElement.GetProperty("id").GetString()!;
        Assert.Equal(("open", 20L), (created.RootElement.GetProperty("status").GetString(), created.RootElement.GetProperty("idle").GetInt64()));
        Assert.Equal("2030-05-01T18:00:00+00:00", created.RootElement.GetProperty("expires_at").GetString());
        Assert.Equal(80, (await tenant.Client.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var list = await host.RunCliAsync("allocations", "list", pool.Id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        Assert.Contains("Box office", Assert.Single(list.Output.Split('\n'), l => l.Contains(id, StringComparison.Ordinal)), StringComparison.Ordinal);

        var resize = await host.RunCliAsync("allocations", "resize", id, "-q", "15", "--no-expiry", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, resize.ExitCode);
        using (var resized = JsonDocument.Parse(resize.Output))
        {
            Assert.Equal(15, resized.RootElement.GetProperty("size").GetInt64());
            Assert.Equal(JsonValueKind.Null, resized.RootElement.GetProperty("expires_at").ValueKind);
        }

        var release = await host.RunCliAsync("allocations", "release", id, "-q", "5", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, release.ExitCode);
        Assert.Contains("10: 0 held, 0 sold, 10 idle", release.Output, StringComparison.Ordinal);

        var tooMany = await host.RunCliAsync("allocations", "release", id, "-q", "11", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, tooMany.ExitCode);
        using (var problem = JsonDocument.Parse(tooMany.Error))
        {
            Assert.Equal("ALLOCATION_INSUFFICIENT", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal(10, problem.RootElement.GetProperty("idle").GetInt64());
        }

        var nothing = await host.RunCliAsync("allocations", "update", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, nothing.ExitCode);
        Assert.Contains("--quantity", nothing.Error, StringComparison.Ordinal);

        var close = await host.RunCliAsync("allocations", "close", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, close.ExitCode);
        Assert.Contains("closed", close.Output, StringComparison.Ordinal);
        Assert.Equal(100, (await tenant.Client.GetCapacityAsync(pool.Id)).AvailableCapacity);

        var show = await host.RunCliAsync("allocations", "show", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.Contains("Box office", show.Output, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Events_show_lists_a_capacitys_allocations_under_it()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, _) = await TheatreAsync(tenant.Client, "fest");
        var box = await tenant.Client.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 20 });
        await tenant.Client.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 5, AllocationId = box.Id });

        var run = await host.RunCliAsync("events", "show", "fest", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var lines = run.Output.Split('\n');
        var boxRow = Assert.Single(lines, l => l.Contains(box.Id.ToString(), StringComparison.Ordinal));
        var adultRow = Assert.Single(lines, l => l.Contains(adult.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains("├─ ◇ Box office", boxRow, StringComparison.Ordinal);
        Assert.Contains("allocation", boxRow, StringComparison.Ordinal);

        // Size 20 of which 5 held and 15 idle: 5 + 15 cells of the 20-cell bar.
        Assert.Contains("▒▒▒▒▒░░░░░░░░░░░░░░░", boxRow, StringComparison.Ordinal);
        Assert.True(Array.IndexOf(lines, boxRow) < Array.IndexOf(lines, adultRow));
        Assert.Contains("◇ allocation", run.Output, StringComparison.Ordinal);

        // In JSON, as the API shows it: the member only on the capacity that has one.
        var json = await host.RunCliAsync("events", "show", "fest", "--json", "--key", tenant.Key);
        using var doc = JsonDocument.Parse(json.Output);
        var capacity = doc.RootElement.GetProperty("capacity");
        Assert.Equal(15, capacity[0].GetProperty("allocations")[0].GetProperty("idle").GetInt64());
        Assert.False(capacity[1].TryGetProperty("allocations", out _));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reserve_from_an_allocation_for_a_buyer_shows_both_on_the_hold()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, _, _) = await TheatreAsync(tenant.Client, "play");
        var box = await tenant.Client.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Sponsor", Quantity = 10 });

        var json = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "2", "--allocation", box.Id.ToString(), "--buyer", "fan-7", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, json.ExitCode);
        using var held = JsonDocument.Parse(json.Output);
        var reservation = held.RootElement.GetProperty("reservation");
        Assert.Equal("fan-7", reservation.GetProperty("buyer_key").GetString());
        Assert.Equal(box.Id, reservation.GetProperty("items")[0].GetProperty("allocation_id").GetGuid());

        var table = await host.RunCliAsync("reserve", pool.Id.ToString(), "-q", "1", "-a", box.Id.ToString(), "-b", "fan-8", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, table.ExitCode);
        Assert.Contains("fan-8", table.Output, StringComparison.Ordinal);
        Assert.Contains($"from allocation {box.Id}", table.Output, StringComparison.Ordinal);
        Assert.Equal(3, (await tenant.Client.GetAllocationAsync(box.Id)).Held);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Limits_commands_create_list_update_show_usage_and_delete_a_limit()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, child) = await TheatreAsync(tenant.Client, "final");

        var create = await host.RunCliAsync(
            "limits", "create", "final", "--name", "Four per person", "--max", "4", "-c", adult.Id.ToString(), "-c", child.Id.ToString(), "--require-key", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, create.ExitCode);
        using var created = JsonDocument.Parse(create.Output);
        var id = created.RootElement.GetProperty("id").GetString()!;
        Assert.Equal([adult.Id, child.Id], created.RootElement.GetProperty("capacity_ids").EnumerateArray().Select(c => c.GetGuid()));
        Assert.True(created.RootElement.GetProperty("require_buyer_key").GetBoolean());

        var list = await host.RunCliAsync("limits", "list", "final", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, list.ExitCode);
        Assert.Contains("Four per person", list.Output, StringComparison.Ordinal);

        var noKey = await host.RunCliAsync("reserve", adult.Id.ToString(), "-q", "1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, noKey.ExitCode);
        Assert.Contains("BUYER_KEY_REQUIRED", noKey.Error, StringComparison.Ordinal);

        var update = await host.RunCliAsync("limits", "update", id, "--max", "3", "--require-key", "false", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, update.ExitCode);
        var show = await host.RunCliAsync("limits", "show", id, "--key", tenant.Key);
        Assert.Contains("at most 3 tickets", show.Output, StringComparison.Ordinal);
        Assert.Contains("optional", show.Output, StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("reserve", child.Id.ToString(), "-q", "2", "--buyer", "fan", "--key", tenant.Key)).ExitCode);
        var over = await host.RunCliAsync("reserve", adult.Id.ToString(), "-q", "2", "--buyer", "fan", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, over.ExitCode);
        using (var problem = JsonDocument.Parse(over.Error))
        {
            Assert.Equal("BUYER_LIMIT_EXCEEDED", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal(2, problem.RootElement.GetProperty("used").GetInt64());
        }

        var usage = await host.RunCliAsync("limits", "usage", id, "--buyer", "fan", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, usage.ExitCode);
        using (var used = JsonDocument.Parse(usage.Output))
        {
            Assert.Equal((2L, 0L, 3), (used.RootElement.GetProperty("used").GetInt64(), used.RootElement.GetProperty("waiting").GetInt64(), used.RootElement.GetProperty("per_buyer_max").GetInt32()));
        }

        // Units waited for count, and the view says how many of them.
        await tenant.Client.UpdateCapacityAsync(adult.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 50 });
        await tenant.Client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(adult.Id, 1)], BuyerKey = "fan" });
        var shown = await host.RunCliAsync("limits", "usage", id, "--buyer", "fan", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, shown.ExitCode);
        Assert.Contains("1 waited for on waiting lists", shown.Output, StringComparison.Ordinal);

        var delete = await host.RunCliAsync("limits", "delete", id, "--json", "--key", tenant.Key);
        Assert.Equal((ExitCodes.Ok, ""), (delete.ExitCode, delete.Output));
        var again = await host.RunCliAsync("limits", "delete", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.NotFound, again.ExitCode);
        Assert.Empty(await tenant.Client.ListLimitsAsync("final"));
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Waitlist_commands_join_show_list_and_leave_entries_and_an_offer_shows_as_a_hold()
    {
        var tenant = await host.NewTenantAsync();
        var floor = await tenant.Client.CreateCapacityAsync("gig", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 2 });
        var hold = await tenant.Client.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 });

        var enable = await host.RunCliAsync("waitlist", "enable", floor.Id.ToString(), "--policy", "first_fit", "--offer-minutes", "15", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, enable.ExitCode);
        using (var capacity = JsonDocument.Parse(enable.Output))
        {
            var list = capacity.RootElement.GetProperty("waitlist");
            Assert.Equal((true, 15, "first_fit"), (list.GetProperty("enabled").GetBoolean(), list.GetProperty("offer_minutes").GetInt32(), list.GetProperty("policy").GetString()));
        }

        var join = await host.RunCliAsync("waitlist", "join", $"{floor.Id}:2", "--buyer", "fan-1", "--ref", "order-1", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, join.ExitCode);
        using var first = JsonDocument.Parse(join.Output);
        var firstId = first.RootElement.GetProperty("id").GetString()!;
        Assert.Equal(("waiting", 1L, "fan-1"), (first.RootElement.GetProperty("status").GetString(), first.RootElement.GetProperty("position").GetInt64(),
            first.RootElement.GetProperty("buyer_key").GetString()));

        var second = await host.RunCliAsync("waitlist", "join", $"{floor.Id}:1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, second.ExitCode);
        Assert.Contains("2 in line", second.Output, StringComparison.Ordinal);
        var secondId = Assert.Single(second.Output.Split('\n'), l => l.StartsWith("Entry", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];

        var show = await host.RunCliAsync("waitlist", "show", firstId, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        foreach (var text in new[] { "waiting", "1 in line", "fan-1", "order-1", $"2 × {floor.Id}" })
        {
            Assert.Contains(text, show.Output, StringComparison.Ordinal);
        }

        // A page of one says how to go on; --all reads every page.
        var page = await host.RunCliAsync("waitlist", "list", floor.Id.ToString(), "--limit", "1", "--json", "--key", tenant.Key);
        using (var one = JsonDocument.Parse(page.Output))
        {
            Assert.Equal(firstId, one.RootElement.GetProperty("entries").EnumerateArray().Single().GetProperty("id").GetString());
            Assert.Equal(first.RootElement.GetProperty("sequence").GetInt64(), one.RootElement.GetProperty("next_after").GetInt64());
        }

        Assert.Contains("More: --after", (await host.RunCliAsync("waitlist", "list", floor.Id.ToString(), "--limit", "1", "--key", tenant.Key)).Output, StringComparison.Ordinal);
        var all = await host.RunCliAsync("waitlist", "list", floor.Id.ToString(), "--all", "--limit", "1", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, all.ExitCode);
        using (var every = JsonDocument.Parse(all.Output))
        {
            Assert.Equal([firstId, secondId], every.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
            Assert.Equal(JsonValueKind.Null, every.RootElement.GetProperty("next_after").ValueKind);
        }

        // Two tickets come back: the first in line is offered them, as a hold with the entry's id.
        await tenant.Client.ReleaseAsync(hold.Reservation.Id);
        var offered = await host.RunCliAsync("waitlist", "show", firstId, "--key", tenant.Key);
        Assert.Contains("offered", offered.Output, StringComparison.Ordinal);
        Assert.Contains($"reservation {firstId}", offered.Output, StringComparison.Ordinal);
        var confirm = await host.RunCliAsync("confirm", firstId, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, confirm.ExitCode);
        Assert.Contains($"waiting-list entry {firstId}", confirm.Output, StringComparison.Ordinal);

        var leave = await host.RunCliAsync("waitlist", "leave", secondId, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, leave.ExitCode);
        Assert.Contains("left", leave.Output, StringComparison.Ordinal);
        var again = await host.RunCliAsync("waitlist", "leave", secondId, "--json", "--key", tenant.Key);
        using (var left = JsonDocument.Parse(again.Output))
        {
            Assert.Equal("left", left.RootElement.GetProperty("status").GetString());
        }

        Assert.Equal(WaitlistStatus.Accepted, (await tenant.Client.GetWaitlistEntryAsync(Guid.Parse(firstId))).Status);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Waitlist_enable_and_disable_set_a_capacitys_list_and_events_show_adds_waiting_and_offered_columns()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, _) = await TheatreAsync(tenant.Client, "play");
        Assert.DoesNotContain("Waiting", (await host.RunCliAsync("events", "show", "play", "--key", tenant.Key)).Output, StringComparison.Ordinal);

        var enable = await host.RunCliAsync("waitlist", "enable", adult.Id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, enable.ExitCode);
        foreach (var text in new[] { "open", "fifo", "30 minutes", "Adult" })
        {
            Assert.Contains(text, enable.Output, StringComparison.Ordinal);
        }

        await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 50 });
        await tenant.Client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(adult.Id, 3)] });
        var show = await host.RunCliAsync("events", "show", "play", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        var lines = show.Output.Split('\n');
        Assert.Contains("│ Waiting │ Offered │", Assert.Single(lines, l => l.Contains("│ Section", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.EndsWith("│       3 │       0 │", Assert.Single(lines, l => l.Contains(adult.Id.ToString(), StringComparison.Ordinal)).TrimEnd(), StringComparison.Ordinal);
        Assert.EndsWith("│         │         │", Assert.Single(lines, l => l.Contains(pool.Id.ToString(), StringComparison.Ordinal)).TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("Offered: tickets held by its offers", show.Output, StringComparison.Ordinal);

        var disable = await host.RunCliAsync("waitlist", "disable", adult.Id.ToString(), "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, disable.ExitCode);
        using (var capacity = JsonDocument.Parse(disable.Output))
        {
            Assert.False(capacity.RootElement.GetProperty("waitlist").GetProperty("enabled").GetBoolean());
            Assert.Equal(3, capacity.RootElement.GetProperty("waitlist").GetProperty("waiting").GetInt64());
        }

        var refused = await host.RunCliAsync("waitlist", "join", $"{adult.Id}:1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, refused.ExitCode);
        Assert.Contains("WAITLIST_DISABLED", refused.Error, StringComparison.Ordinal);
        var closed = await host.RunCliAsync("events", "show", "play", "--key", tenant.Key);
        Assert.Contains("3 (closed)", Assert.Single(closed.Output.Split('\n'), l => l.Contains(adult.Id.ToString(), StringComparison.Ordinal)), StringComparison.Ordinal);
        using (var json = JsonDocument.Parse((await host.RunCliAsync("events", "show", "play", "--json", "--key", tenant.Key)).Output))
        {
            var capacity = json.RootElement.GetProperty("capacity");
            Assert.Equal(3, capacity[1].GetProperty("waitlist").GetProperty("waiting").GetInt64());
            Assert.False(capacity[0].TryGetProperty("waitlist", out _));
        }

        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_waitlist_item_or_policy_the_command_cannot_read_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var args in new[]
        {
            new[] { "waitlist", "join", id },
            ["waitlist", "join", $"{id}:two"],
            ["waitlist", "join", $"{id}:1", "not-a-guid:1"],
            ["waitlist", "join"],
            ["waitlist", "enable", id, "--policy", "lifo"],
            ["waitlist", "enable", id, "--policy", "FirstFit"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task Reserve_with_a_ref_and_metadata_shows_them_and_reservations_list_finds_the_hold_by_its_ref()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, child) = await TheatreAsync(tenant.Client, "play");

        var json = await host.RunCliAsync(
            "reserve", adult.Id.ToString(), "-q", "2", "--ref", "order-1", "--meta", "channel=web", "--meta", "Campaign Name=spring=2026", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, json.ExitCode);
        using var held = JsonDocument.Parse(json.Output);
        var reservation = held.RootElement.GetProperty("reservation");
        var id = reservation.GetProperty("id").GetString()!;
        Assert.Equal("order-1", reservation.GetProperty("external_ref").GetString());

        // Keys as given (not snake_case), and a value may hold an '='.
        Assert.Equal("""{"channel":"web","Campaign Name":"spring=2026"}""", reservation.GetProperty("metadata").GetRawText());

        var table = await host.RunCliAsync("reserve", child.Id.ToString(), "-q", "1", "--ref", "order-2", "--meta", "seat=aisle", "--buyer", "fan-1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, table.ExitCode);
        Assert.Contains("order-2", Assert.Single(table.Output.Split('\n'), l => l.StartsWith("Ref", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("seat=aisle", Assert.Single(table.Output.Split('\n'), l => l.StartsWith("Meta", StringComparison.Ordinal)), StringComparison.Ordinal);

        var byRef = await host.RunCliAsync("reservations", "list", "--ref", "order-1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, byRef.ExitCode);
        var row = Assert.Single(byRef.Output.Split('\n'), l => l.Contains(id, StringComparison.Ordinal));
        foreach (var text in new[] { "active", $"2 × {adult.Id}", "order-1" })
        {
            Assert.Contains(text, row, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("More:", byRef.Output, StringComparison.Ordinal);
        var byBuyer = await host.RunCliAsync("reservations", "list", "--event", "play", "--buyer", "fan-1", "--status", "active", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, byBuyer.ExitCode);
        using (var page = JsonDocument.Parse(byBuyer.Output))
        {
            var only = Assert.Single(page.RootElement.GetProperty("reservations").EnumerateArray());
            Assert.Equal(("order-2", "aisle"), (only.GetProperty("external_ref").GetString(), only.GetProperty("metadata").GetProperty("seat").GetString()));
            Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next_after").ValueKind);
        }

        Assert.Contains("No reservations.", (await host.RunCliAsync("reservations", "list", "--event", "play", "--status", "cancelled", "--key", tenant.Key)).Output, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reservations_list_reads_a_page_at_a_time_by_its_cursor_and_all_reads_every_page()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, _, _) = await TheatreAsync(tenant.Client, "gala");
        var made = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            made.Add((await tenant.Client.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 1 })).Reservation.Id.ToString());
        }

        var first = await host.RunCliAsync("reservations", "list", "--event", "gala", "--limit", "2", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        using var page = JsonDocument.Parse(first.Output);
        Assert.Equal([made[2], made[1]], page.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        var cursor = page.RootElement.GetProperty("next_after").GetString()!;

        var table = await host.RunCliAsync("reservations", "list", "--event", "gala", "--limit", "2", "--key", tenant.Key);
        Assert.Contains($"More: --after {cursor}, or --all", table.Output, StringComparison.Ordinal);
        var rest = await host.RunCliAsync("reservations", "list", "-e", "gala", "--after", cursor, "--json", "--key", tenant.Key);
        using (var last = JsonDocument.Parse(rest.Output))
        {
            Assert.Equal([made[0]], last.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        }

        var all = await host.RunCliAsync("reservations", "list", "--event", "gala", "--all", "--limit", "2", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, all.ExitCode);
        using (var every = JsonDocument.Parse(all.Output))
        {
            Assert.Equal(Enumerable.Reverse(made), every.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
            Assert.Equal(JsonValueKind.Null, every.RootElement.GetProperty("next_after").ValueKind);
        }

        var badCursor = await host.RunCliAsync("reservations", "list", "--event", "gala", "--after", "7", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, badCursor.ExitCode);
        Assert.Contains("after", badCursor.Error, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reservations_show_looks_a_hold_up_and_extend_moves_its_expiry_from_now()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "lookup");
        var price = await tenant.Client.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 12.5m, Currency = "EUR" });
        var hold = (await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 2, PricingId = price.Id, ReservationMinutes = 5, BuyerKey = "fan-7" })).Reservation;
        var id = hold.Id.ToString();

        var show = await host.RunCliAsync("reservations", "show", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.Equal((id, "active", "fan-7"), (Pair(show.Output, "Reservation"), Pair(show.Output, "Status"), Pair(show.Output, "Buyer")));
        Assert.Equal($"2 × {adult.Id} at 12.50 EUR (Adult)", Pair(show.Output, "Item"));
        Assert.StartsWith("25.00 EUR", Pair(show.Output, "Total"), StringComparison.Ordinal);

        var before = DateTimeOffset.UtcNow;
        var extend = await host.RunCliAsync("extend", id, "--minutes", "30", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, extend.ExitCode);
        using (var extended = JsonDocument.Parse(extend.Output))
        {
            Assert.InRange(extended.RootElement.GetProperty("expires_at").GetDateTimeOffset(), before.AddMinutes(29), DateTimeOffset.UtcNow.AddMinutes(31));
        }

        var shown = await host.RunCliAsync("reservations", "show", id, "--json", "--key", tenant.Key);
        using (var read = JsonDocument.Parse(shown.Output))
        {
            Assert.Equal((await tenant.Client.GetReservationAsync(hold.Id)).ExpiresAt, read.RootElement.GetProperty("expires_at").GetDateTimeOffset());
        }

        await tenant.Client.ReleaseAsync(hold.Id);
        var released = await host.RunCliAsync("extend", id, "-m", "10", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, released.ExitCode);
        Assert.Contains("RESERVATION_NOT_ACTIVE", released.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("reservations", "show", Guid.NewGuid().ToString(), "--key", tenant.Key)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("extend", id, "--key", tenant.Key)).ExitCode);
    }

    [Fact]
    public async Task Reservations_create_holds_a_cart_all_or_nothing_with_a_price_locked_per_item()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, child) = await TheatreAsync(tenant.Client, "cart");
        var price = await tenant.Client.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 20m, Currency = "EUR" });

        var cart = await host.RunCliAsync(
            "reservations", "create", $"{adult.Id}:2:{price.Id}", $"{child.Id}:3", "--minutes", "10", "--buyer", "fan-9", "--ref", "order-77", "--meta", "channel=app", "--json", "--key", tenant.Key);
        Assert.True(cart.ExitCode == ExitCodes.Ok, cart.Error);
        using (var held = JsonDocument.Parse(cart.Output))
        {
            var r = held.RootElement;
            Assert.Equal(("active", "fan-9", "order-77", "app"), (r.GetProperty("status").GetString(), r.GetProperty("buyer_key").GetString(),
                r.GetProperty("external_ref").GetString(), r.GetProperty("metadata").GetProperty("channel").GetString()));
            var items = r.GetProperty("items").EnumerateArray().ToList();
            Assert.Equal([(adult.Id, 2), (child.Id, 3)], items.Select(i => (i.GetProperty("capacity_id").GetGuid(), i.GetProperty("quantity").GetInt32())));
            Assert.Equal(20m, items[0].GetProperty("locked_price").GetProperty("unit_price").GetDecimal());
            Assert.Equal(JsonValueKind.Null, items[1].GetProperty("locked_price").ValueKind);
            Assert.Equal(40m, Assert.Single(r.GetProperty("totals").EnumerateArray()).GetProperty("total").GetDecimal());
        }

        Assert.Equal(95, (await tenant.Client.GetCapacityAsync(child.Id)).AvailableCapacity);

        // Past what the adult section has, the whole cart is refused: the child's tickets are not held either.
        var refused = await host.RunCliAsync("reservations", "create", $"{child.Id}:1", $"{adult.Id}:49", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, refused.ExitCode);
        Assert.Contains("INSUFFICIENT_CAPACITY", refused.Error, StringComparison.Ordinal);
        Assert.Equal(95, (await tenant.Client.GetCapacityAsync(child.Id)).AvailableCapacity);

        foreach (var item in new[] { $"{adult.Id}", $"{adult.Id}:2:not-a-guid", $"{adult.Id}:two", $"{adult.Id}:1:{price.Id}:x", $"{adult.Id}:1@", $"{adult.Id}:1@box-office", $"{adult.Id}@{price.Id}" })
        {
            Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("reservations", "create", item, "--key", tenant.Key)).ExitCode);
        }

        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reservations_create_draws_an_item_from_an_allocation_named_after_an_at_sign()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, child) = await TheatreAsync(tenant.Client, "cart-allocation");
        var price = await tenant.Client.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 20m, Currency = "EUR" });
        var boxOffice = await tenant.Client.CreateAllocationAsync(adult.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 4 });

        var cart = await host.RunCliAsync("reservations", "create", $"{adult.Id}:3:{price.Id}@{boxOffice.Id}", $"{child.Id}:1", "--json", "--key", tenant.Key);
        Assert.True(cart.ExitCode == ExitCodes.Ok, cart.Error);
        using (var held = JsonDocument.Parse(cart.Output))
        {
            var items = held.RootElement.GetProperty("items").EnumerateArray().ToList();
            Assert.Equal(boxOffice.Id, items[0].GetProperty("allocation_id").GetGuid());
            Assert.Equal(20m, items[0].GetProperty("locked_price").GetProperty("unit_price").GetDecimal());
        }

        Assert.Equal(3, (await tenant.Client.GetAllocationAsync(boxOffice.Id)).Held);

        // More than the allocation has left is refused, all or nothing, and takes nothing from the public.
        var before = (await tenant.Client.GetCapacityAsync(adult.Id)).AvailableCapacity;
        var refused = await host.RunCliAsync("reservations", "create", $"{child.Id}:1", $"{adult.Id}:2@{boxOffice.Id}", "--key", tenant.Key);
        Assert.NotEqual(ExitCodes.Ok, refused.ExitCode);
        Assert.Equal(before, (await tenant.Client.GetCapacityAsync(adult.Id)).AvailableCapacity);
        Assert.Equal(3, (await tenant.Client.GetAllocationAsync(boxOffice.Id)).Held);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Ledger_reads_an_event_a_page_at_a_time_and_all_reads_every_page()
    {
        var tenant = await host.NewTenantAsync();
        var floor = await tenant.Client.CreateCapacityAsync("ledger", new CreateCapacityRequest { SectionName = "Floor", TotalCapacity = 10 });
        var sale = await tenant.Client.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 2 });
        await tenant.Client.ConfirmAsync(sale.Reservation.Id);
        var hold = await tenant.Client.ReserveAsync(floor.Id, new ReserveRequest { Quantity = 1 });
        await tenant.Client.ReleaseAsync(hold.Reservation.Id);

        var first = await host.RunCliAsync("ledger", "ledger", "--limit", "3", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        long next;
        using (var page = JsonDocument.Parse(first.Output))
        {
            Assert.Equal(["hold", "confirm", "hold"], page.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));
            next = page.RootElement.GetProperty("next_after").GetInt64();
            Assert.Equal(page.RootElement.GetProperty("entries")[2].GetProperty("sequence").GetInt64(), next);
        }

        var rest = await host.RunCliAsync("ledger", "ledger", "--after", next.ToString(CultureInfo.InvariantCulture), "--json", "--key", tenant.Key);
        using (var page = JsonDocument.Parse(rest.Output))
        {
            var release = Assert.Single(page.RootElement.GetProperty("entries").EnumerateArray());
            Assert.Equal(("release", -1L, hold.Reservation.Id), (release.GetProperty("kind").GetString(), release.GetProperty("reserved_delta").GetInt64(), release.GetProperty("reservation_id").GetGuid()));
            Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next_after").ValueKind);
        }

        var all = await host.RunCliAsync("ledger", "ledger", "--limit", "2", "--all", "--json", "--key", tenant.Key);
        using (var page = JsonDocument.Parse(all.Output))
        {
            Assert.Equal(["hold", "confirm", "hold", "release"], page.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));
            Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next_after").ValueKind);
        }

        var table = await host.RunCliAsync("ledger", "ledger", "--limit", "3", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, table.ExitCode);
        var confirm = Assert.Single(table.Output.Split('\n'), l => l.Contains("│ confirm", StringComparison.Ordinal));
        var cells = confirm.Split('│', StringSplitOptions.TrimEntries)[2..^2];
        Assert.Equal(["confirm", floor.Id.ToString(), sale.Reservation.Id.ToString(), "-2", "+2"], cells);
        Assert.Contains($"More: --after {next}, or --all", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Change_sets_a_holds_new_quantities_and_a_change_past_what_is_free_is_a_conflict_that_changes_nothing()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, child) = await TheatreAsync(tenant.Client, "play");
        var hold = (await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 4 })).Reservation;

        var changed = await host.RunCliAsync("change", hold.Id.ToString(), $"{adult.Id}:2", $"{child.Id}:3", "--minutes", "30", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, changed.ExitCode);
        foreach (var text in new[] { "active", $"2 × {adult.Id}", $"3 × {child.Id}" })
        {
            Assert.Contains(text, changed.Output, StringComparison.Ordinal);
        }

        Assert.Equal((48L, 95L), ((await tenant.Client.GetCapacityAsync(adult.Id)).AvailableCapacity!.Value, (await tenant.Client.GetCapacityAsync(pool.Id)).AvailableCapacity!.Value));
        Assert.InRange((await tenant.Client.GetReservationAsync(hold.Id)).ExpiresAt, hold.CreatedAt.AddMinutes(30), DateTimeOffset.UtcNow.AddMinutes(30));

        var tooMany = await host.RunCliAsync("change", hold.Id.ToString(), $"{adult.Id}:51", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, tooMany.ExitCode);
        using (var problem = JsonDocument.Parse(tooMany.Error))
        {
            Assert.Equal(("INSUFFICIENT_CAPACITY", 48L), (problem.RootElement.GetProperty("code").GetString(), problem.RootElement.GetProperty("available_capacity").GetInt64()));
        }

        Assert.Equal([(adult.Id, 2), (child.Id, 3)], (await tenant.Client.GetReservationAsync(hold.Id)).Items.Select(i => (i.CapacityId, i.Quantity)));

        var released = await host.RunCliAsync("change", hold.Id.ToString(), $"{adult.Id}:0", $"{child.Id}:0", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, released.ExitCode);
        using (var reservation = JsonDocument.Parse(released.Output))
        {
            Assert.Equal("released", reservation.RootElement.GetProperty("status").GetString());
        }

        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("change", Guid.NewGuid().ToString(), $"{adult.Id}:1", "--key", tenant.Key)).ExitCode);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Confirm_items_sells_part_of_a_hold_and_cancel_items_refunds_part_of_the_sale_until_cancel_refunds_the_rest()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, child) = await TheatreAsync(tenant.Client, "final");
        var cart = await tenant.Client.CreateReservationAsync(new CreateReservationRequest
        {
            Items = [new ReservationItemRequest { CapacityId = adult.Id, Quantity = 5 }, new ReservationItemRequest { CapacityId = child.Id, Quantity = 2 }],
        });
        var id = cart.Id.ToString();

        var sale = await host.RunCliAsync("confirm", id, "--items", $"{adult.Id}:3", $"{child.Id}:0", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, sale.ExitCode);
        using (var sold = JsonDocument.Parse(sale.Output))
        {
            Assert.Equal("confirmed", sold.RootElement.GetProperty("status").GetString());
            Assert.Equal([(adult.Id, 3)], sold.RootElement.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("capacity_id").GetGuid(), i.GetProperty("quantity").GetInt32())));
            Assert.False(sold.RootElement.TryGetProperty("reclaimed", out _));
        }

        Assert.Equal((3L, 47L), ((await tenant.Client.GetCapacityAsync(adult.Id)).SoldCount, (await tenant.Client.GetCapacityAsync(adult.Id)).AvailableCapacity!.Value));

        var refund = await host.RunCliAsync("cancel", id, "--items", $"{adult.Id}:1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, refund.ExitCode);
        Assert.Contains("confirmed", refund.Output, StringComparison.Ordinal);
        Assert.Contains($"2 × {adult.Id} (1 refunded)", refund.Output, StringComparison.Ordinal);

        var tooMany = await host.RunCliAsync("cancel", id, "--items", $"{adult.Id}:3", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, tooMany.ExitCode);
        Assert.Contains("INVALID_QUANTITY", tooMany.Error, StringComparison.Ordinal);

        var rest = await host.RunCliAsync("cancel", id, "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, rest.ExitCode);
        using (var cancelled = JsonDocument.Parse(rest.Output))
        {
            var item = Assert.Single(cancelled.RootElement.GetProperty("items").EnumerateArray());
            Assert.Equal(("cancelled", 0, 3), (cancelled.RootElement.GetProperty("status").GetString(), item.GetProperty("quantity").GetInt32(), item.GetProperty("cancelled_quantity").GetInt32()));
        }

        Assert.Equal(0, (await tenant.Client.GetCapacityAsync(adult.Id)).SoldCount);
        var again = await host.RunCliAsync("cancel", id, "--items", $"{adult.Id}:1", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, again.ExitCode);
        Assert.Contains("RESERVATION_NOT_ACTIVE", again.Error, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_reservation_command_line_the_command_cannot_read_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var args in new[]
        {
            new[] { "reservations", "list" },
            ["reservations", "list", "--status", "active"],
            ["reservations", "list", "--event", "e", "--status", "Active"],
            ["reservations", "list", "--event", "e", "--status", "done"],
            ["change", id],
            ["change", id, $"{id}:-1"],
            ["change", id, "2"],
            ["confirm", id, "--items"],
            ["confirm", id, "--items", $"{id}:x"],
            ["cancel", id, "--items", "not-a-guid:1"],
            ["reserve", id, "-q", "1", "--meta", "no-equals-sign"],
            ["reserve", id, "-q", "1", "--meta", "=value"],
            ["reserve", id, "-q", "1", "--meta", "a=1", "--meta", "a=2"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task Capacities_create_makes_pools_tiers_and_windows_and_events_show_adds_where_each_stands_for_sale()
    {
        var tenant = await host.NewTenantAsync();
        var venue = await CreateByCliAsync(tenant, "tiers", "Venue", "--total", "100");
        var early = await CreateByCliAsync(tenant, "tiers", "Early bird", "--total", "3", "--parent", venue.ToString(), "--close-when-sold-out");
        var regular = await host.RunCliAsync(
            "capacities", "create", "tiers", "Regular", "--total", "50", "--parent", venue.ToString(), "--opens-after", early.ToString(), "--overbook", "2", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, regular.ExitCode);
        Guid regularId;
        using (var created = JsonDocument.Parse(regular.Output))
        {
            var c = created.RootElement;
            regularId = c.GetProperty("id").GetGuid();
            Assert.Equal(("capped", "scheduled", early, 2, 52L), (c.GetProperty("mode").GetString(), c.GetProperty("state").GetString(),
                c.GetProperty("opens_after_sold_out_of").GetGuid(), c.GetProperty("overbook_limit").GetInt32(), c.GetProperty("available_capacity").GetInt64()));
            Assert.Equal([venue], c.GetProperty("parent_ids").EnumerateArray().Select(p => p.GetGuid()));
            Assert.False(c.TryGetProperty("next_change_at", out _));
        }

        var presale = await host.RunCliAsync(
            "capacities", "create", "tiers", "Presale", "--total", "10", "--sale-starts", "2030-05-01T18:00:00Z", "--sale-ends", "2030-05-02T18:00:00Z", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, presale.ExitCode);
        Assert.Equal(("Presale", "scheduled", "2030-05-01 18:00:00Z"), (Pair(presale.Output, "Name"), Pair(presale.Output, "State"), Pair(presale.Output, "Next change")));
        Assert.Equal("2030-05-01 18:00:00Z to 2030-05-02 18:00:00Z", Pair(presale.Output, "Sale window"));
        var presaleId = Guid.Parse(Pair(presale.Output, "Capacity"));

        // A capacity made without rules reads as one always did: no rule in its answer.
        var plain = await host.RunCliAsync("capacities", "create", "tiers", "Stream", "--json", "--key", tenant.Key);
        using (var created = JsonDocument.Parse(plain.Output))
        {
            Assert.Equal(("unlimited", "on_sale"), (created.RootElement.GetProperty("mode").GetString(), created.RootElement.GetProperty("state").GetString()));
            Assert.False(created.RootElement.TryGetProperty("close_when_sold_out", out _));
        }

        var before = await host.RunCliAsync("events", "show", "tiers", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, before.ExitCode);
        var lines = before.Output.Split('\n');
        Assert.Contains("│ Sale", Assert.Single(lines, l => l.Contains("│ Section", StringComparison.Ordinal)), StringComparison.Ordinal);
        var regularRow = Array.FindIndex(lines, l => l.Contains(regularId.ToString(), StringComparison.Ordinal));
        Assert.Contains("│ 50 +2 │", lines[regularRow], StringComparison.Ordinal);
        Assert.Contains("scheduled", lines[regularRow], StringComparison.Ordinal);
        Assert.Contains("after Early bird", lines[regularRow + 1], StringComparison.Ordinal);
        var presaleRow = Array.FindIndex(lines, l => l.Contains(presaleId.ToString(), StringComparison.Ordinal));
        Assert.Contains("opens 2030-05-01 18:00:00Z", lines[presaleRow + 1], StringComparison.Ordinal);
        Assert.Contains("Sale: where each capacity stands", before.Output, StringComparison.Ordinal);

        // The early bird sells out: it closes and the regular tier opens.
        await tenant.Client.ReserveAsync(early, new ReserveRequest { Quantity = 3 });
        var after = (await host.RunCliAsync("events", "show", "tiers", "--key", tenant.Key)).Output.Split('\n');
        Assert.Contains("closed (sold out)", Assert.Single(after, l => l.Contains(early.ToString(), StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("on sale", Assert.Single(after, l => l.Contains(regularId.ToString(), StringComparison.Ordinal)), StringComparison.Ordinal);
        var show = await host.RunCliAsync("capacities", "show", early.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.Equal("closed (sold out)", Pair(show.Output, "State"));
        Assert.StartsWith("closes", Pair(show.Output, "When sold out"), StringComparison.Ordinal);

        var refused = await host.RunCliAsync("reserve", presaleId.ToString(), "-q", "1", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, refused.ExitCode);
        using (var problem = JsonDocument.Parse(refused.Error))
        {
            Assert.Equal(("SALE_NOT_OPEN", presaleId), (problem.RootElement.GetProperty("code").GetString(), problem.RootElement.GetProperty("capacity_id").GetGuid()));
            Assert.Equal(DateTimeOffset.Parse("2030-05-01T18:00:00Z", CultureInfo.InvariantCulture), problem.RootElement.GetProperty("sale_starts_at").GetDateTimeOffset());
        }

        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Capacities_update_changes_only_the_rules_given_clears_a_window_edge_and_reopens_a_capacity_its_rule_closed()
    {
        var tenant = await host.NewTenantAsync();
        var floor = await CreateByCliAsync(tenant, "club", "Floor", "--total", "2", "--close-when-sold-out", "--sale-ends", "2030-05-02T18:00:00Z");
        var id = floor.ToString();

        var overbook = await host.RunCliAsync("capacities", "update", id, "--overbook", "1", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, overbook.ExitCode);
        using (var updated = JsonDocument.Parse(overbook.Output))
        {
            var c = updated.RootElement;
            Assert.Equal((1, 3L, true, true), (c.GetProperty("overbook_limit").GetInt32(), c.GetProperty("available_capacity").GetInt64(),
                c.GetProperty("close_when_sold_out").GetBoolean(), c.GetProperty("is_active").GetBoolean()));
            Assert.Equal("2030-05-02T18:00:00+00:00", c.GetProperty("sale_ends_at").GetString());
        }

        var starts = await host.RunCliAsync("capacities", "update", id, "--sale-starts", "2030-05-01T18:00:00Z", "--no-sale-end", "--overbook", "0", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, starts.ExitCode);
        Assert.Equal("from 2030-05-01 18:00:00Z", Pair(starts.Output, "Sale window"));
        Assert.DoesNotContain("Overbooking", starts.Output, StringComparison.Ordinal);
        var now = await host.RunCliAsync("capacities", "update", id, "--no-sale-start", "--json", "--key", tenant.Key);
        using (var updated = JsonDocument.Parse(now.Output))
        {
            Assert.Equal("on_sale", updated.RootElement.GetProperty("state").GetString());
            Assert.False(updated.RootElement.TryGetProperty("sale_starts_at", out _));
            Assert.False(updated.RootElement.TryGetProperty("sale_ends_at", out _));
        }

        // Sold out, it closes; tickets coming back do not reopen it, --active does.
        var hold = await tenant.Client.ReserveAsync(floor, new ReserveRequest { Quantity = 2 });
        await tenant.Client.ReleaseAsync(hold.Reservation.Id);
        Assert.Equal("closed (sold out)", Pair((await host.RunCliAsync("capacities", "show", id, "--key", tenant.Key)).Output, "State"));
        var reopen = await host.RunCliAsync("capacities", "update", id, "--active", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, reopen.ExitCode);
        Assert.Equal("on sale", Pair(reopen.Output, "State"));
        var capacity = await tenant.Client.GetCapacityAsync(floor);
        Assert.Equal((SaleState.OnSale, true, null, true), (capacity.State, capacity.IsActive, capacity.ClosedReason, capacity.CloseWhenSoldOut));

        // A tier is set once: naming another is the service's 400.
        var other = await CreateByCliAsync(tenant, "club", "Other", "--total", "5");
        var tier = await host.RunCliAsync("capacities", "update", other.ToString(), "--opens-after", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, tier.ExitCode);
        Assert.Equal($"{id} sells out", Pair(tier.Output, "Opens after"));
        var third = await CreateByCliAsync(tenant, "club", "Third", "--total", "5");
        var again = await host.RunCliAsync("capacities", "update", other.ToString(), "--opens-after", third.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, again.ExitCode);
        Assert.Contains("opens_after_sold_out_of", again.Error, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Capacities_create_and_update_set_the_name_code_size_and_whether_it_is_open_and_check_asks_what_could_be_held()
    {
        var tenant = await host.NewTenantAsync();
        var create = await host.RunCliAsync(
            "capacities", "create", "resize", "Stalls", "--total", "10", "--code", "ST", "--schedule", "evening", "--mode", "own", "--inactive", "--json", "--key", tenant.Key);
        Assert.True(create.ExitCode == ExitCodes.Ok, create.Error);
        string id;
        using (var created = JsonDocument.Parse(create.Output))
        {
            var c = created.RootElement;
            id = c.GetProperty("id").GetString()!;
            Assert.Equal(("Stalls", "ST", "evening", "own", false, "closed"), (c.GetProperty("section_name").GetString(), c.GetProperty("section_code").GetString(),
                c.GetProperty("schedule_id").GetString(), c.GetProperty("mode").GetString(), c.GetProperty("is_active").GetBoolean(), c.GetProperty("state").GetString()));
        }

        Assert.Equal(ExitCodes.Conflict, (await host.RunCliAsync("reserve", id, "-q", "1", "--key", tenant.Key)).ExitCode);

        var open = await host.RunCliAsync("capacities", "update", id, "--active", "--name", "Front stalls", "--no-code", "--total", "20", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, open.ExitCode);
        Assert.Equal(("Front stalls", "20", "on sale", "evening"), (Pair(open.Output, "Name"), Pair(open.Output, "Total"), Pair(open.Output, "State"), Pair(open.Output, "Schedule")));
        Assert.DoesNotContain("Code ", open.Output, StringComparison.Ordinal);

        await tenant.Client.ReserveAsync(Guid.Parse(id), new ReserveRequest { Quantity = 5 });
        var fits = await host.RunCliAsync("capacities", "check", id, "-q", "15", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, fits.ExitCode);
        Assert.Equal(("15", "15"), (Pair(fits.Output, "Quantity"), Pair(fits.Output, "Free now")));
        Assert.StartsWith("yes", Pair(fits.Output, "Available"), StringComparison.Ordinal);
        var tooMany = await host.RunCliAsync("capacities", "check", id, "-q", "16", "--json", "--key", tenant.Key);
        using (var check = JsonDocument.Parse(tooMany.Output))
        {
            Assert.Equal((false, 16, 15L, true), (check.RootElement.GetProperty("available").GetBoolean(), check.RootElement.GetProperty("quantity").GetInt32(),
                check.RootElement.GetProperty("available_capacity").GetInt64(), check.RootElement.GetProperty("is_active").GetBoolean()));
        }

        // Nothing held or sold is ever cut: a size below them is refused and changes nothing.
        var below = await host.RunCliAsync("capacities", "update", id, "--total", "4", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, below.ExitCode);
        Assert.Contains("CAPACITY_BELOW_COMMITTED", below.Error, StringComparison.Ordinal);
        Assert.Equal(20, (await tenant.Client.GetCapacityAsync(Guid.Parse(id))).TotalCapacity);

        var unlimited = await host.RunCliAsync("capacities", "update", id, "--unlimited", "--json", "--key", tenant.Key);
        using (var updated = JsonDocument.Parse(unlimited.Output))
        {
            Assert.Equal((JsonValueKind.Null, "unlimited", JsonValueKind.Null), (updated.RootElement.GetProperty("total_capacity").ValueKind,
                updated.RootElement.GetProperty("mode").GetString(), updated.RootElement.GetProperty("available_capacity").ValueKind));
        }

        var closed = await host.RunCliAsync("capacities", "update", id, "--active", "false", "--json", "--key", tenant.Key);
        using (var updated = JsonDocument.Parse(closed.Output))
        {
            Assert.False(updated.RootElement.GetProperty("is_active").GetBoolean());
        }

        // A mode the total and parents do not make is the service's 400.
        var wrongMode = await host.RunCliAsync("capacities", "create", "resize", "Loose", "--total", "5", "--mode", "capped", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, wrongMode.ExitCode);
        Assert.Contains("mode", wrongMode.Error, StringComparison.Ordinal);
        await host.AssertInvariantsAsync();
    }

    [Fact]
    public async Task Capacities_low_watermark_is_set_on_create_shown_changed_and_removed()
    {
        var tenant = await host.NewTenantAsync();
        var floor = await CreateByCliAsync(tenant, "low", "Floor", "--total", "100", "--low-watermark", "10");
        var id = floor.ToString();

        var show = await host.RunCliAsync("capacities", "show", id, "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        Assert.StartsWith("10 ", Pair(show.Output, "Low watermark"), StringComparison.Ordinal);

        var lowered = await host.RunCliAsync("capacities", "update", id, "--low-watermark", "5", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, lowered.ExitCode);
        using (var updated = JsonDocument.Parse(lowered.Output))
        {
            Assert.Equal((5, 100), (updated.RootElement.GetProperty("low_watermark").GetInt32(), updated.RootElement.GetProperty("total_capacity").GetInt32()));
        }

        // An update that does not name it keeps it.
        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("capacities", "update", id, "--overbook", "2", "--key", tenant.Key)).ExitCode);
        Assert.Equal(5, (await tenant.Client.GetCapacityAsync(floor)).LowWatermark);

        var removed = await host.RunCliAsync("capacities", "update", id, "--no-low-watermark", "--json", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, removed.ExitCode);
        using (var updated = JsonDocument.Parse(removed.Output))
        {
            Assert.False(updated.RootElement.TryGetProperty("low_watermark", out _));
        }

        Assert.DoesNotContain("Low watermark", (await host.RunCliAsync("capacities", "show", id, "--key", tenant.Key)).Output, StringComparison.Ordinal);
        var both = await host.RunCliAsync("capacities", "update", id, "--low-watermark", "5", "--no-low-watermark", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, both.ExitCode);
    }

    [Fact]
    public async Task Webhooks_create_to_a_private_address_is_refused_with_its_code_by_a_service_that_does_not_allow_them()
    {
        var tenant = await host.NewTenantAsync();

        var refused = await host.RunCliAsync("webhooks", "create", "http://10.0.0.1/x", "--events", "capacity.low", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Usage, refused.ExitCode);
        Assert.Contains("WEBHOOK_URL_NOT_ALLOWED", refused.Error, StringComparison.Ordinal);
        Assert.Empty(await tenant.Client.ListWebhooksAsync());
    }

    [Fact]
    public async Task Limits_update_leaves_a_switch_it_is_not_given_alone_and_a_malformed_capacity_id_is_a_usage_error()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "kept");
        var limit = await tenant.Client.CreateLimitAsync("kept", new CreateLimitRequest { Name = "Two", CapacityIds = [adult.Id], PerBuyerMax = 2, RequireBuyerKey = true });

        // A switch left out is not sent as false: the limit still requires a buyer key.
        Assert.Equal(ExitCodes.Ok, (await host.RunCliAsync("limits", "update", limit.Id.ToString(), "--max", "3", "--key", tenant.Key)).ExitCode);
        var kept = await tenant.Client.GetLimitAsync(limit.Id);
        Assert.Equal((3, true), (kept.PerBuyerMax, kept.RequireBuyerKey));

        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var error = new StringWriter();
        var exit = await CapacityCli.RunAsync(
            ["limits", "create", "kept", "--name", "Two", "--max", "2", "-c", adult.Id.ToString(), "-c", "not-a-guid", "--key", "k"], stub, new StringWriter(), error, _ => null, default);
        Assert.Equal((ExitCodes.Usage, 0), (exit, stub.Calls));
        Assert.Contains("'not-a-guid' is not a capacity id", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_capacities_command_line_the_command_cannot_read_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var args in new[]
        {
            new[] { "capacities", "create", "e" },
            ["capacities", "create", "e", "Stalls", "--total", "many"],
            ["capacities", "create", "e", "Stalls", "--sale-starts", "tomorrow"],
            ["capacities", "create", "e", "Stalls", "--opens-after", "not-a-guid"],
            ["capacities", "create", "e", "Stalls", "--parent", "not-a-guid"],
            ["capacities", "update", id],
            ["capacities", "update", id, "--sale-starts", "2030-05-01T18:00:00Z", "--no-sale-start"],
            ["capacities", "update", id, "--sale-ends", "2030-05-01T18:00:00Z", "--no-sale-end"],
            ["capacities", "update", id, "--overbook", "x"],
            ["capacities", "update", id, "--total", "5", "--unlimited"],
            ["capacities", "update", id, "--code", "A", "--no-code"],
            ["capacities", "create", "e", "Stalls", "--mode", "Own"],
            ["capacities", "check", id],
            ["capacities", "show", "not-a-guid"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task A_stats_or_bench_command_line_the_command_cannot_read_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        foreach (var args in new[]
        {
            new[] { "stats" },
            ["stats", "e", "--bucket", "2m"],
            ["stats", "e", "--from", "tomorrow"],
            ["stats", "e", "--capacity", "not-a-guid"],
            ["stats", "e", "--last", "5x"],
            ["stats", "e", "--last", "0m"],
            ["stats", "e", "--last", "h"],
            ["stats", "e", "--last", "1441d"],
            ["stats", "e", "--last", "1h", "--from", "2030-05-01T18:00:00Z"],
            ["bench"],
            ["bench", "e", "--workers", "0"],
            ["bench", "e", "--workers", "257"],
            ["bench", "e", "--confirm", "101"],
            ["bench", "e", "--duration", "0"],
            ["bench", "e", "--quantity", "101"],
            ["bench", "e", "--capacity", "not-a-guid"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
            Assert.DoesNotContain("   at ", error.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task Every_write_a_command_sends_carries_an_idempotency_key_of_its_own()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, _) = await TheatreAsync(tenant.Client, "keyed");
        var price = await tenant.Client.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 10m, Currency = "EUR" });
        var hold = (await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 3 })).Reservation.Id.ToString();
        var recorder = new Recorder { InnerHandler = host.Server.CreateHandler() };
        foreach (var args in new[]
        {
            new[] { "capacities", "create", "keyed", "Box", "--total", "5" },
            ["capacities", "update", pool.Id.ToString(), "--name", "Hall"],
            ["pricing", "create", adult.Id.ToString(), "--name", "Child", "--price", "5", "--currency", "EUR"],
            ["pricing", "update", price.Id.ToString(), "--current-price", "8"],
            ["reserve", adult.Id.ToString(), "-q", "1"],
            ["reservations", "create", $"{adult.Id}:1"],
            ["extend", hold, "-m", "20"],
            ["change", hold, $"{adult.Id}:2"],
            ["confirm", hold],
            ["cancel", hold, "--items", $"{adult.Id}:1"],
            ["allocations", "create", pool.Id.ToString(), "--name", "Sponsor", "-q", "2"],
            ["limits", "create", "keyed", "--name", "Four", "--max", "4", "-c", adult.Id.ToString()],
            ["waitlist", "enable", adult.Id.ToString()],
            ["bench", "keyed", "-c", adult.Id.ToString(), "-w", "1", "-d", "0.2", "--confirm", "50"],
            ["bench", "keyed-rules", "--scenario", "rules", "-w", "1", "-d", "0.2"],
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync(["--url", "http://localhost/", .. args, "--key", tenant.Key], recorder, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Ok, $"{string.Join(' ', args)}: exit {exit}, {error}");
        }

        var writes = recorder.Requests.Where(r => r.Method != "GET").ToList();
        Assert.Contains(writes, w => w.Method == "PUT");
        Assert.Contains(writes, w => w.Method == "PATCH");
        Assert.All(writes, w => Assert.False(string.IsNullOrEmpty(w.Key), $"{w.Method} {w.Path} has no Idempotency-Key"));
        Assert.Equal(writes.Count, writes.Select(w => w.Key).Distinct().Count());
    }

    [Fact]
    public async Task Exit_codes_tell_conflict_not_found_auth_and_usage_apart()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "play");

        var tooMany = await host.RunCliAsync("reserve", adult.Id.ToString(), "--quantity", "51", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Conflict, tooMany.ExitCode);
        Assert.Contains("INSUFFICIENT_CAPACITY", tooMany.Error, StringComparison.Ordinal);

        var tooManyJson = await host.RunCliAsync("reserve", adult.Id.ToString(), "--quantity", "51", "--json", "--key", tenant.Key);
        using (var problem = JsonDocument.Parse(tooManyJson.Error))
        {
            Assert.Equal(50, problem.RootElement.GetProperty("available_capacity").GetInt64());
        }

        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("confirm", Guid.NewGuid().ToString(), "--key", tenant.Key)).ExitCode);
        Assert.Equal(ExitCodes.Auth, (await host.RunCliAsync("events", "list", "--key", "cap_wrong")).ExitCode);
        Assert.Equal(ExitCodes.Auth, (await host.RunCliAsync("verify", "--key", tenant.Key)).ExitCode);

        var zero = await host.RunCliAsync("reserve", adult.Id.ToString(), "--quantity", "0", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, zero.ExitCode);
        Assert.Contains("INVALID_QUANTITY", zero.Error, StringComparison.Ordinal);

        var noQuantity = await host.RunCliAsync("reserve", adult.Id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, noQuantity.ExitCode);
        Assert.Contains("--quantity", noQuantity.Error, StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("confirm", "not-a-guid", "--key", tenant.Key)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await host.RunCliAsync("frobnicate")).ExitCode);
        var ftp = await CapacityCli.RunAsync(["events", "list", "--url", "ftp://x", "--key", "k"], new StubHandler((_, _) => throw new UnreachableException()), new StringWriter(), new StringWriter(), _ => null, default);
        Assert.Equal(ExitCodes.Usage, ftp);
    }

    [Fact]
    public async Task Help_lists_the_commands_and_the_exit_codes()
    {
        var help = await host.RunCliAsync("--help");

        Assert.Equal(ExitCodes.Ok, help.ExitCode);
        foreach (var word in new[] { "tenants", "whoami", "events", "capacities", "pricing", "allocations", "limits", "waitlist", "reservations", "reserve", "change", "extend", "confirm", "release", "cancel", "webhooks", "watch", "stats", "ledger", "bench", "verify", "--url", "--key", "--json", "--idempotency-key", "Exit codes" })
        {
            Assert.Contains(word, help.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Verify_exits_1_and_lists_the_violations_when_the_audit_finds_some()
    {
        var stub = new StubHandler((_, _) => StubHandler.Json(HttpStatusCode.OK,
            """{"ok":false,"capacities":3,"live_reservations":1,"violations":["capacity 1: reserved 2 but the ledger says 1"]}"""));
        var output = new StringWriter();

        var exit = await CapacityCli.RunAsync(["verify", "--key", "admin"], stub, output, new StringWriter(), _ => null, default);

        Assert.Equal(ExitCodes.Violations, exit);
        Assert.Contains("1 violation(s)", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("reserved 2 but the ledger says 1", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_that_stays_unavailable_exits_6_after_the_retries()
    {
        var stub = new StubHandler((_, _) => StubHandler.Unavailable(TimeSpan.Zero));
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["events", "list", "--key", "k"], stub, new StringWriter(), error, _ => null, default);

        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal(4, stub.Calls);
        Assert.Contains("SERVICE_UNAVAILABLE", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_holds_confirms_and_releases_at_once_and_the_counters_and_audit_agree_with_what_was_acknowledged()
    {
        var tenant = await host.NewTenantAsync();
        var (pool, adult, child) = await TheatreAsync(tenant.Client, "bench");

        var run = await host.RunCliAsync(
            "bench", "bench", "--workers", "4", "--duration", "1", "--confirm", "50", "--quantity", "2", "--admin-key", CapacityHost.AdminKey, "--json", "--key", tenant.Key);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error + run.Output);
        using var doc = JsonDocument.Parse(run.Output);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("ok").GetBoolean());

        // Mix is the default: it creates nothing, and has no rule for every answer, since its holds may sell the event out.
        Assert.Equal("mix", r.GetProperty("scenario").GetString());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("pool_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, r.GetProperty("expected").ValueKind);
        Assert.Equal(0, r.GetProperty("past_limits").GetArrayLength());

        // Without --capacity, the capacities nothing else draws from: the two sections, not their pool.
        Assert.Equal([adult.Id, child.Id], r.GetProperty("capacity_ids").EnumerateArray().Select(x => x.GetGuid()));
        var ops = r.GetProperty("operations").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        var holds = ops["hold"];
        Assert.Equal(r.GetProperty("cycles").GetInt64(), holds.GetProperty("requests").GetInt64());
        Assert.True(holds.GetProperty("ok").GetInt64() > 0);

        // Every hold taken was confirmed or released, half of them confirmed; what was sold is on the pool, nothing is left held.
        Assert.Equal(holds.GetProperty("ok").GetInt64(), ops["confirm"].GetProperty("requests").GetInt64() + ops["release"].GetProperty("requests").GetInt64());
        Assert.InRange(ops["confirm"].GetProperty("requests").GetInt64() - ops["release"].GetProperty("requests").GetInt64(), -4, 4);
        Assert.True(holds.GetProperty("p50_ms").GetDouble() > 0 && holds.GetProperty("p50_ms").GetDouble() <= holds.GetProperty("p99_ms").GetDouble());
        var counters = (await tenant.Client.GetCapacityAsync(pool.Id));
        Assert.Equal((0L, 2 * ops["confirm"].GetProperty("ok").GetInt64()), (counters.ReservedCapacity, counters.SoldCount));
        var c = r.GetProperty("counters");
        Assert.Equal((true, true, counters.SoldCount), (c.GetProperty("compared").GetBoolean(), c.GetProperty("ok").GetBoolean(), c.GetProperty("sold").GetInt64()));
        Assert.True(r.GetProperty("verify").GetProperty("ok").GetBoolean());

        // The pool of 100 sold out long before the second was over: the holds after that were refused, and counted so.
        if (counters.SoldCount == 100)
        {
            Assert.True(holds.GetProperty("refused").GetInt64() > 0);
            Assert.True(r.GetProperty("errors").GetProperty("409 INSUFFICIENT_CAPACITY").GetInt64() > 0);
        }

        // Nothing confirmed: the event is left as it was, and the table says so.
        var released = await host.RunCliAsync("bench", "bench", "--capacity", adult.Id.ToString(), "--workers", "2", "--duration", "0.3", "--key", tenant.Key);
        Assert.True(released.ExitCode == ExitCodes.Ok, released.Error + released.Output);
        Assert.Contains("Throughput: ", released.Output, StringComparison.Ordinal);
        Assert.Matches("│ hold +│ +[0-9,]+ │", released.Output);
        Assert.Contains("Counters: as acknowledged (sold 0, reserved 0 on the capacities held from)", released.Output, StringComparison.Ordinal);
        Assert.Contains("Limits: kept", released.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Expected:", released.Output, StringComparison.Ordinal);
        Assert.Contains("Audit: skipped", released.Output, StringComparison.Ordinal);
        Assert.Equal(counters.SoldCount, (await tenant.Client.GetCapacityAsync(pool.Id)).SoldCount);

        var stranger = await host.RunCliAsync("bench", "bench", "--capacity", Guid.NewGuid().ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, stranger.ExitCode);
        Assert.Contains("is not a capacity of event bench", stranger.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.NotFound, (await host.RunCliAsync("bench", "no-such-event", "--key", tenant.Key)).ExitCode);
    }

    [Fact]
    public async Task Bench_onsale_takes_every_single_ticket_hold_on_a_pool_of_its_own_and_the_pool_holds_exactly_those()
    {
        var tenant = await host.NewTenantAsync();

        var run = await host.RunCliAsync(
            "bench", "onsale", "--scenario", "onsale", "--workers", "2", "--duration", "0.5", "--admin-key", CapacityHost.AdminKey, "--json", "--key", tenant.Key);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error + run.Output);
        using var doc = JsonDocument.Parse(run.Output);
        var r = doc.RootElement;
        Assert.Equal(("onsale", 1, 0), (r.GetProperty("scenario").GetString(), r.GetProperty("quantity").GetInt32(), r.GetProperty("confirm_percent").GetInt32()));
        var hold = Assert.Single(r.GetProperty("operations").EnumerateArray());
        Assert.Equal("hold", hold.GetProperty("name").GetString());
        var taken = hold.GetProperty("ok").GetInt64();
        Assert.True(taken > 0);
        Assert.Equal((taken, 0L, 0L), (hold.GetProperty("requests").GetInt64(), hold.GetProperty("refused").GetInt64(), hold.GetProperty("failed").GetInt64()));
        var expected = r.GetProperty("expected");
        Assert.Equal(("every hold taken", taken, taken, true),
            (expected.GetProperty("rule").GetString(), expected.GetProperty("met").GetInt64(), expected.GetProperty("of").GetInt64(), expected.GetProperty("ok").GetBoolean()));

        // The pool it made, with a capped and a shared section held from in turn, holds exactly the tickets taken.
        var pool = await tenant.Client.GetCapacityAsync(r.GetProperty("pool_id").GetGuid());
        Assert.Equal((1_000_000, taken, 0L), (pool.TotalCapacity, pool.ReservedCapacity, pool.SoldCount));
        var sections = await tenant.Client.ListCapacityAsync("onsale");
        Assert.Equal(["Pool", "Capped", "Shared"], sections.Select(x => x.SectionName));
        Assert.Equal(sections.Skip(1).Select(x => x.Id), r.GetProperty("capacity_ids").EnumerateArray().Select(x => x.GetGuid()));
        Assert.InRange(sections[1].ReservedCapacity - sections[2].ReservedCapacity, -2, 2);
        var counters = r.GetProperty("counters");
        Assert.Equal((true, true, taken, taken), (counters.GetProperty("compared").GetBoolean(), counters.GetProperty("ok").GetBoolean(),
            counters.GetProperty("expected_reserved").GetInt64(), counters.GetProperty("reserved").GetInt64()));
        Assert.Equal(0, r.GetProperty("past_limits").GetArrayLength());
        Assert.True(r.GetProperty("verify").GetProperty("ok").GetBoolean());
        Assert.True(r.GetProperty("ok").GetBoolean());

        // The holds are left to expire a minute after the run, in whole minutes: a run of half a second, in two.
        var left = Assert.Single((await tenant.Client.ListReservationsAsync(new ReservationQuery { EventId = "onsale" }, limit: 1)).Reservations);
        Assert.Equal((ReservationStatus.Active, TimeSpan.FromMinutes(2)), (left.Status, left.ExpiresAt - left.CreatedAt));

        // Its own capacities only: an event that has some is refused before anything is sent.
        var again = await host.RunCliAsync("bench", "onsale", "--scenario", "onsale", "--duration", "0.2", "--key", tenant.Key);
        Assert.Equal(ExitCodes.Usage, again.ExitCode);
        Assert.Contains("event onsale already has capacities", again.Error, StringComparison.Ordinal);
        Assert.Equal(3, (await tenant.Client.ListCapacityAsync("onsale")).Count);
    }

    [Fact]
    public async Task Bench_soldout_sells_its_pool_first_and_then_every_hold_is_refused_as_insufficient_and_nothing_moves()
    {
        var tenant = await host.NewTenantAsync();

        var run = await host.RunCliAsync(
            "bench", "soldout", "--scenario", "soldout", "--workers", "2", "--duration", "0.5", "--admin-key", CapacityHost.AdminKey, "--json", "--key", tenant.Key);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error + run.Output);
        using var doc = JsonDocument.Parse(run.Output);
        var r = doc.RootElement;
        var hold = Assert.Single(r.GetProperty("operations").EnumerateArray());
        var tried = hold.GetProperty("requests").GetInt64();
        Assert.True(tried > 0);
        Assert.Equal((0L, tried, 0L), (hold.GetProperty("ok").GetInt64(), hold.GetProperty("refused").GetInt64(), hold.GetProperty("failed").GetInt64()));
        var error = Assert.Single(r.GetProperty("errors").EnumerateObject());
        Assert.Equal(("409 INSUFFICIENT_CAPACITY", tried), (error.Name, error.Value.GetInt64()));
        var expected = r.GetProperty("expected");
        Assert.Equal(("every hold refused with 409 INSUFFICIENT_CAPACITY", tried, true),
            (expected.GetProperty("rule").GetString(), expected.GetProperty("met").GetInt64(), expected.GetProperty("ok").GetBoolean()));

        // Sold out before the run, half on each section, and just so after it.
        var pool = await tenant.Client.GetCapacityAsync(r.GetProperty("pool_id").GetGuid());
        Assert.Equal((100, 0L, 100L), (pool.TotalCapacity, pool.ReservedCapacity, pool.SoldCount));
        Assert.Equal([50L, 50L], (await tenant.Client.ListCapacityAsync("soldout")).Skip(1).Select(x => x.SoldCount));
        var counters = r.GetProperty("counters");
        Assert.Equal((true, 0L, 0L), (counters.GetProperty("ok").GetBoolean(), counters.GetProperty("sold").GetInt64(), counters.GetProperty("reserved").GetInt64()));
        Assert.True(r.GetProperty("verify").GetProperty("ok").GetBoolean());
        Assert.True(r.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Bench_reads_prints_every_read_answered_and_the_pool_unmoved()
    {
        var tenant = await host.NewTenantAsync();

        var run = await host.RunCliAsync("bench", "reads", "--scenario", "reads", "--workers", "2", "--duration", "0.5", "--key", tenant.Key);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error + run.Output);
        Assert.Contains("Bench reads of event reads: 2 workers for ", run.Output, StringComparison.Ordinal);
        Assert.Contains("reads of 2 sections of a pool of 1,000,000", run.Output, StringComparison.Ordinal);

        // One row, the reads: as many answered as sent, none refused or failed; and no hold was tried.
        var row = Assert.Single(run.Output.Split('\n'), l => l.StartsWith("│ read ", StringComparison.Ordinal));
        var read = Regex.Match(row, "│ read +│ +([0-9,]+) │ +([0-9,]+) │ +0 │ +0 │");
        Assert.True(read.Success, row);
        Assert.Equal(read.Groups[1].Value, read.Groups[2].Value);
        Assert.DoesNotContain("│ hold ", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("holds tried", run.Output, StringComparison.Ordinal);
        Assert.Contains($"Expected: every read answered: yes ({read.Groups[1].Value} of {read.Groups[1].Value})", run.Output, StringComparison.Ordinal);
        Assert.Contains("Counters: as acknowledged (sold 0, reserved 0 on the pool)", run.Output, StringComparison.Ordinal);
        Assert.Contains("Limits: kept", run.Output, StringComparison.Ordinal);
        Assert.All(await tenant.Client.ListCapacityAsync("reads"), x => Assert.Equal((0L, 0L), (x.ReservedCapacity, x.SoldCount)));
    }

    [Fact]
    public async Task Bench_rules_takes_every_hold_past_an_allocation_waiting_lists_and_a_per_buyer_limit_on_its_pool()
    {
        var tenant = await host.NewTenantAsync();

        var run = await host.RunCliAsync(
            "bench", "rules", "--scenario", "rules", "--workers", "2", "--duration", "0.5", "--admin-key", CapacityHost.AdminKey, "--json", "--key", tenant.Key);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error + run.Output);
        using var doc = JsonDocument.Parse(run.Output);
        var r = doc.RootElement;
        var hold = Assert.Single(r.GetProperty("operations").EnumerateArray());
        var taken = hold.GetProperty("ok").GetInt64();
        Assert.True(taken > 0);
        Assert.Equal(taken, hold.GetProperty("requests").GetInt64());
        Assert.True(r.GetProperty("expected").GetProperty("ok").GetBoolean());

        // The pool's reserved is the allocation set aside before the run and the tickets taken in it; the counters compare the run's share.
        var poolId = r.GetProperty("pool_id").GetGuid();
        var pool = await tenant.Client.GetCapacityAsync(poolId);
        Assert.Equal((1_000 + taken, 0L), (pool.ReservedCapacity, pool.SoldCount));
        Assert.Equal(1_000, Assert.Single(pool.Allocations!).Size);
        Assert.Equal(2, pool.WaitlistDemand);
        Assert.Equal(taken, r.GetProperty("counters").GetProperty("reserved").GetInt64());
        Assert.True(r.GetProperty("counters").GetProperty("ok").GetBoolean());

        // Every hold named a buyer, four holds to a buyer at most: the limit's usage by the first worker's first buyer says so.
        var limit = Assert.Single(await tenant.Client.ListLimitsAsync("rules"));
        Assert.Equal((4, 3), (limit.PerBuyerMax, limit.CapacityIds.Count));
        Assert.InRange((await tenant.Client.GetLimitUsageAsync(limit.Id, "w0-0")).Used, 1, 4);
        Assert.True(r.GetProperty("verify").GetProperty("ok").GetBoolean());
        Assert.True(r.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Bench_exits_1_and_says_NO_when_the_scenario_s_answers_are_not_what_it_expects()
    {
        var tenant = await host.NewTenantAsync();

        // Every third hold is answered 503 before it reaches the server: onsale expects every one taken.
        var handler = new EveryThirdHoldUnavailable { InnerHandler = host.Server.CreateHandler() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CapacityCli.RunAsync(
            ["--url", "http://localhost/", "bench", "refused", "--scenario", "onsale", "--workers", "1", "--duration", "0.3", "--key", tenant.Key],
            handler, output, error, _ => null, default);

        Assert.True(exit == ExitCodes.Violations, $"exit {exit}: {error}{output}");
        Assert.Matches(@"Expected: every hold taken: NO \([0-9,]+ of [0-9,]+\)", output.ToString());
        Assert.Contains("503 SERVICE_UNAVAILABLE × ", output.ToString(), StringComparison.Ordinal);

        // A 503 applies nothing, so the holds that were taken still add up.
        Assert.Contains("Counters: as acknowledged", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_exits_1_and_names_a_capacity_held_past_its_total_even_when_the_counters_moved_as_acknowledged()
    {
        // A service that no real one should be: its hall is held past its total, and it refuses every hold, so nothing moves.
        var hall = Guid.NewGuid();
        var list = $$"""{"capacity":[{"id":"{{hall}}","event_id":"e","schedule_id":null,"section_name":"Hall","section_code":null,"mode":"own","total_capacity":100,"available_capacity":0,"reserved_capacity":101,"sold_count":0,"is_active":true,"parent_ids":[],"created_at":"2026-12-01T00:00:00Z","updated_at":"2026-12-01T00:00:00Z"}]}""";
        var stub = new StubHandler((request, _) => request.Method == HttpMethod.Get
            ? StubHandler.Json(HttpStatusCode.OK, list)
            : StubHandler.Json(HttpStatusCode.Conflict, """{"type":"/problems/insufficient-capacity","title":"Not enough capacity.","status":409,"detail":"Test.","code":"INSUFFICIENT_CAPACITY"}"""));
        var output = new StringWriter();

        var exit = await CapacityCli.RunAsync(["bench", "e", "--workers", "1", "--duration", "0.1", "--key", "k"], stub, output, new StringWriter(), _ => null, default);

        Assert.Equal(ExitCodes.Violations, exit);
        Assert.Contains("Counters: as acknowledged (sold 0, reserved 0 on the capacities held from)", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("Limits: BROKEN on 1 capacity:", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"Hall ({hall}): reserved 101, sold 0, limit 100", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_with_an_unknown_scenario_or_mix_options_on_another_is_a_usage_error_and_nothing_is_sent()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        foreach (var (args, says) in new[]
        {
            (new[] { "bench", "e", "--scenario", "stampede" }, "stampede"),
            (["bench", "e", "--scenario", "onsale", "--confirm", "50"], "mix scenario's"),
            (["bench", "e", "-s", "soldout", "--quantity", "2"], "mix scenario's"),
            (["bench", "e", "-s", "reads", "--capacity", Guid.NewGuid().ToString()], "mix scenario's"),
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
            Assert.Contains(says, error.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task Watch_json_prints_a_snapshot_at_once_and_another_after_a_hold_and_Ctrl_C_exits_0()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "live");
        var lines = new LineWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var watch = host.RunCliAsync(["watch", "live", "--json", "--key", tenant.Key], null, stop.Token, lines);
        await lines.WaitForAsync(1, stop.Token);
        await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 5 });
        await lines.WaitForAsync(2, stop.Token);
        await stop.CancelAsync();
        var run = await watch;

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        using var before = JsonDocument.Parse(lines.Lines[0]);
        using var after = JsonDocument.Parse(lines.Lines[1]);
        Assert.Equal(0, before.RootElement.GetProperty("totals").GetProperty("reserved_capacity").GetInt64());
        Assert.Equal(5, after.RootElement.GetProperty("totals").GetProperty("reserved_capacity").GetInt64());
        Assert.Equal(1, after.RootElement.GetProperty("holds").GetProperty("active").GetInt64());
        Assert.Equal(45, after.RootElement.GetProperty("capacity")[1].GetProperty("available_capacity").GetInt64());
    }

    [Fact]
    public async Task Watch_without_json_writes_the_event_table_for_each_snapshot()
    {
        var tenant = await host.NewTenantAsync();
        await TheatreAsync(tenant.Client, "live-table");
        var output = new LineWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var watch = host.RunCliAsync(["watch", "live-table", "--key", tenant.Key], null, stop.Token, output);
        await output.WaitForAsync("Active holds", stop.Token);
        await stop.CancelAsync();
        var run = await watch;

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("Event live-table", run.Output, StringComparison.Ordinal);
        Assert.Contains("├─ Adult", run.Output, StringComparison.Ordinal);
        Assert.Contains("Active holds: 0", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_C_ends_a_watch_with_0_even_when_the_stream_reports_the_cancelled_read_as_a_broken_one()
    {
        var tenant = await host.NewTenantAsync();
        await TheatreAsync(tenant.Client, "live-broken-read");
        var output = new LineWriter();
        var errors = new StringWriter();
        var handler = new CancelledReadsBreak { InnerHandler = host.Server.CreateHandler() };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var watch = CapacityCli.RunAsync(
            ["--url", "http://localhost/", "watch", "live-broken-read", "--json", "--key", tenant.Key], handler, output, errors, _ => null, stop.Token);
        await output.WaitForAsync(1, stop.Token);
        await stop.CancelAsync();

        // The test server's stream does this now and then; a watch ended on purpose is not a broken connection.
        Assert.Equal(ExitCodes.Ok, await watch);
        Assert.Equal("", errors.ToString());
    }

    [Fact]
    public async Task Watch_in_a_terminal_draws_the_first_snapshot_at_once_before_the_event_changes()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "live-terminal");
        await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 3 });
        var output = new LineWriter();
        var terminal = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.Standard,
            Interactive = InteractionSupport.Yes,
        });
        terminal.Profile.Width = 160;

        // The sales figures are held back until the watch ends: they would redraw the table too, and so hide a first
        // snapshot that was never drawn. Nothing changes on the event, so the stream's first snapshot is its only one.
        var handler = new StatsHeldBack { InnerHandler = host.Server.CreateHandler() };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watch = CapacityCli.RunAsync(
            ["--url", "http://localhost/", "watch", "live-terminal", "--key", tenant.Key], handler, terminal, output, new StringWriter(), _ => null, stop.Token);
        try
        {
            await output.WaitForAsync("Active holds", stop.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("In 20 s the watch drew nothing: its first snapshot was never put on the screen.");
        }

        var drawn = output.Lines;
        await stop.CancelAsync();

        Assert.Equal(ExitCodes.Ok, await watch);

        // The live display's first act is to hide the cursor: the terminal path drew this, not the one for pipes.
        Assert.StartsWith("\u001b[?25l", drawn[0], StringComparison.Ordinal);
        Assert.Contains(drawn, l => l.Contains("Event live-terminal", StringComparison.Ordinal));

        // Adult: 50 in all, 3 held before the watch began, 47 available. The one snapshot may be drawn twice over.
        var adultRow = drawn.First(l => l.Contains(adult.Id.ToString(), StringComparison.Ordinal));
        Assert.Matches(@"Adult.*│ +50 │ +0 │ +3 │ +47 │", adultRow);
    }

    [Fact]
    public async Task Watch_shows_the_sales_rate_and_forecast_under_the_table()
    {
        var tenant = await host.NewTenantAsync();
        var (_, adult, _) = await TheatreAsync(tenant.Client, "live-rate");
        var sale = await tenant.Client.ReserveAsync(adult.Id, new ReserveRequest { Quantity = 4 });
        await tenant.Client.ConfirmAsync(sale.Reservation.Id);
        var output = new LineWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var watch = host.RunCliAsync(["watch", "live-rate", "--key", tenant.Key], null, stop.Token, output);
        await output.WaitForAsync("Sold per minute since", stop.Token);
        await stop.CancelAsync();
        var run = await watch;

        Assert.Equal(ExitCodes.Ok, run.ExitCode);

        // Each redraw repeats the lines; the first is enough.
        var lines = output.Lines.ToList();
        var sales = lines.FindIndex(l => l.Contains("tickets taken a minute", StringComparison.Ordinal));
        Assert.StartsWith("Sales: ", lines[sales], StringComparison.Ordinal);
        Assert.Contains(", 96 available, sells out ", lines[sales], StringComparison.Ordinal);

        // The sparkline covers the last hour by minute, and this minute (or the one before, at a turn of the clock) sold 4.
        Assert.StartsWith("Sold per minute since ", lines[sales + 1], StringComparison.Ordinal);
        var sparkline = lines[sales + 1][(lines[sales + 1].LastIndexOf(": ", StringComparison.Ordinal) + 2)..];
        Assert.InRange(sparkline.Length, 60, 61);
        Assert.Contains('█', sparkline);
    }

    [Fact]
    public async Task Watch_says_an_event_with_nothing_left_is_sold_out()
    {
        var tenant = await host.NewTenantAsync();
        var club = await tenant.Client.CreateCapacityAsync("live-sold-out", new CreateCapacityRequest { SectionName = "Club", TotalCapacity = 4 });
        await tenant.Client.ConfirmAsync((await tenant.Client.ReserveAsync(club.Id, new ReserveRequest { Quantity = 4 })).Reservation.Id);
        var output = new LineWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var watch = host.RunCliAsync(["watch", "live-sold-out", "--key", tenant.Key], null, stop.Token, output);
        await output.WaitForAsync("Sold per minute since", stop.Token);
        await stop.CancelAsync();
        var run = await watch;

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var sales = output.Lines.First(l => l.Contains("tickets taken a minute", StringComparison.Ordinal));
        Assert.EndsWith(", 0 available, sold out", sales, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_exits_6_when_the_service_ends_the_stream()
    {
        var hall = """{"id":"0199a5a0-1b2c-7d3e-8f40-5a6b7c8d9e0f","event_id":"e","schedule_id":null,"section_name":"Hall","section_code":null,"mode":"unlimited","total_capacity":null,"available_capacity":null,"reserved_capacity":0,"sold_count":0,"is_active":true,"parent_ids":[],"created_at":"2026-12-04T10:00:00+00:00","updated_at":"2026-12-04T10:00:00+00:00","state":"on_sale"}""";
        var snapshot = $$$"""{"event_id":"e","capacity":[{{{hall}}}],"totals":{"event_id":"e","total_capacity":0,"available_capacity":0,"reserved_capacity":0,"sold_count":0,"has_unlimited":true},"holds":{"active":0,"expiring":[]}}""";

        // The event's capacities first (watch makes sure it has some), then its stream.
        var stub = new StubHandler((request, _) => request.RequestUri!.AbsolutePath.EndsWith("/stream", StringComparison.Ordinal)
            ? new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent($"event: heartbeat\ndata: {{}}\n\nevent: snapshot\ndata: {snapshot}\n\n", System.Text.Encoding.UTF8, "text/event-stream"),
            }
            : StubHandler.Json(HttpStatusCode.OK, $$"""{"capacity":[{{hall}}]}"""));
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["watch", "e", "--json", "--key", "k"], stub, output, error, _ => null, default);

        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal(snapshot, output.ToString().Trim());
        Assert.Contains("closed the stream", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_show_names_the_pool_above_that_closes_a_section_or_keeps_it_from_sale_and_shows_the_sale_column_for_it()
    {
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;

        // No sale rules anywhere: only the deactivated Venue takes its sections off sale.
        var venue = await t.CreateCapacityAsync("arena", new CreateCapacityRequest { SectionName = "Venue", TotalCapacity = 100 });
        var level = await t.CreateCapacityAsync("arena", new CreateCapacityRequest { SectionName = "Level", TotalCapacity = 60, ParentIds = [venue.Id] });
        var stalls = await t.CreateCapacityAsync("arena", new CreateCapacityRequest { SectionName = "Stalls", TotalCapacity = 30, ParentIds = [level.Id] });
        var box = await t.CreateCapacityAsync("arena", new CreateCapacityRequest { SectionName = "Box", TotalCapacity = 4, ParentIds = [level.Id], IsActive = false });
        await t.UpdateCapacityAsync(venue.Id, new UpdateCapacityRequest { IsActive = false });

        var show = await host.RunCliAsync("events", "show", "arena", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, show.ExitCode);
        var lines = show.Output.Split('\n');
        Assert.Contains("│ Sale", Assert.Single(lines, l => l.Contains("│ Section", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Equal(["closed (deactivated)"], Sale(lines, venue.Id));
        Assert.Equal(["closed", "pool Venue is deactivated"], Sale(lines, level.Id));
        Assert.Equal(["closed", "pool Venue is deactivated"], Sale(lines, stalls.Id));

        // Its own switch explains the Box, whatever the pools above it.
        Assert.Equal(["closed (deactivated)"], Sale(lines, box.Id));
        Assert.DoesNotContain("sale ended", show.Output, StringComparison.Ordinal);

        // One capacity alone does not show its pools: it says a pool above, not which.
        var alone = await host.RunCliAsync("capacities", "show", stalls.Id.ToString(), "--key", tenant.Key);
        Assert.Equal("closed (a pool above is closed)", Pair(alone.Output, "State"));

        // A pool whose window has not started keeps its sections scheduled: they name it, and when it opens.
        var annex = await t.CreateCapacityAsync("arena", new CreateCapacityRequest
        {
            SectionName = "Annex", TotalCapacity = 20, SaleStartsAt = DateTimeOffset.Parse("2030-05-01T18:00:00Z", CultureInfo.InvariantCulture),
        });
        var terrace = await t.CreateCapacityAsync("arena", new CreateCapacityRequest { SectionName = "Terrace", TotalCapacity = 10, ParentIds = [annex.Id] });
        var later = (await host.RunCliAsync("events", "show", "arena", "--key", tenant.Key)).Output.Split('\n');
        Assert.Equal(["scheduled", "pool Annex is not on sale yet", "opens 2030-05-01 18:00:00Z"], Sale(later, terrace.Id));
        Assert.Equal(["scheduled", "opens 2030-05-01 18:00:00Z"], Sale(later, annex.Id));
        Assert.Equal("scheduled (a pool above is not on sale yet)", Pair((await host.RunCliAsync("capacities", "show", terrace.Id.ToString(), "--key", tenant.Key)).Output, "State"));

        // The Venue open again, its sections are on sale; an event all on sale and without rules has no Sale column, as before
        // (a low watermark is no sale rule, though the service shows a capacity with one as having rules).
        await t.UpdateCapacityAsync(venue.Id, new UpdateCapacityRequest { IsActive = true });
        Assert.Equal(["on sale"], Sale((await host.RunCliAsync("events", "show", "arena", "--key", tenant.Key)).Output.Split('\n'), stalls.Id));
        await t.CreateCapacityAsync("arena-plain", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10, LowWatermark = 2 });
        Assert.DoesNotContain("│ Sale", (await host.RunCliAsync("events", "show", "arena-plain", "--key", tenant.Key)).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_last_covers_exactly_the_buckets_the_duration_holds_ending_with_the_current_one()
    {
        var tenant = await host.NewTenantAsync();
        await TheatreAsync(tenant.Client, "last-hour");

        var hour = await host.RunCliAsync("stats", "last-hour", "--last", "1h", "--json", "--key", tenant.Key);
        Assert.True(hour.ExitCode == ExitCodes.Ok, hour.Error);
        using (var doc = JsonDocument.Parse(hour.Output))
        {
            var s = doc.RootElement;
            Assert.Equal(60, s.GetProperty("buckets").GetArrayLength());
            var (from, to) = (s.GetProperty("from").GetDateTimeOffset(), s.GetProperty("to").GetDateTimeOffset());
            Assert.Equal(TimeSpan.FromHours(1), to - from);
            Assert.InRange(DateTimeOffset.UtcNow, to.AddMinutes(-2), to);
        }

        var text = await host.RunCliAsync("stats", "last-hour", "--last", "1h", "--key", tenant.Key);
        Assert.EndsWith(", 60 buckets of 1m", Pair(text.Output, "Range"), StringComparison.Ordinal);

        var days = await host.RunCliAsync("stats", "last-hour", "--last", "2d", "--bucket", "1h", "--json", "--key", tenant.Key);
        using (var doc = JsonDocument.Parse(days.Output))
        {
            Assert.Equal(48, doc.RootElement.GetProperty("buckets").GetArrayLength());
        }
    }

    [Fact]
    public async Task Stats_and_watch_of_an_event_with_no_capacities_say_so_and_exit_3()
    {
        var tenant = await host.NewTenantAsync();

        var stats = await host.RunCliAsync("stats", "nosuch-event", "--key", tenant.Key);
        Assert.Equal(ExitCodes.NotFound, stats.ExitCode);
        Assert.Contains("nosuch-event has no capacities", stats.Error, StringComparison.Ordinal);
        Assert.Equal("", stats.Output);

        // Before, a watch of it followed an empty table until Ctrl+C: the token ends it if it does.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var watch = await host.RunCliAsync(["watch", "nosuch-event", "--json", "--key", tenant.Key], null, stop.Token);
        Assert.Equal(ExitCodes.NotFound, watch.ExitCode);
        Assert.Contains("nosuch-event has no capacities", watch.Error, StringComparison.Ordinal);
        Assert.Equal("", watch.Output);
    }

    [Fact]
    public async Task An_id_that_is_not_a_uuid_is_a_usage_error_that_names_the_argument()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var (args, name) in new[]
        {
            (new[] { "capacities", "show", "not-a-guid" }, "capacity-id"),
            (["confirm", "not-a-guid"], "reservation-id"),
            (["admin", "keys", "revoke", id, "not-a-guid"], "key-id"),
            (["reserve", id, "-q", "1", "--pricing", "not-a-guid"], "--pricing"),
            (["capacities", "update", id, "--opens-after", "not-a-guid"], "--opens-after"),
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);
            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
            Assert.Contains($"{name} must be an id (a UUID)", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("'not-a-guid'", error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("System.Guid", error.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task The_help_of_a_hold_does_not_promise_the_default_length_an_operator_may_have_changed()
    {
        foreach (var command in new[] { new[] { "reserve", "--help" }, ["reservations", "create", "--help"] })
        {
            var help = await host.RunCliAsync(command);
            Assert.Equal(ExitCodes.Ok, help.ExitCode);
            Assert.Contains("15 unless its operator changed it", help.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("default: 15)", help.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task List_commands_print_every_page_when_the_service_answers_a_list_in_pages()
    {
        var tenant = await host.NewTenantAsync();
        var t = tenant.Client;
        var (pool, adult, child) = await TheatreAsync(t, "paged-1");
        await TheatreAsync(t, "paged-2");
        await t.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Adult", BasePrice = 10m, Currency = "EUR" });
        await t.CreatePricingAsync(adult.Id, new CreatePricingRequest { Name = "Student", BasePrice = 8m, Currency = "EUR" });
        await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Box office", Quantity = 2 });
        await t.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Sponsor", Quantity = 2 });
        await t.CreateLimitAsync("paged-1", new CreateLimitRequest { Name = "Four", CapacityIds = [adult.Id], PerBuyerMax = 4 });
        await t.CreateLimitAsync("paged-1", new CreateLimitRequest { Name = "Six", CapacityIds = [child.Id], PerBuyerMax = 6 });
        await host.Admin().IssueKeyAsync(tenant.Id);
        var pages = new ListsInPages { InnerHandler = host.Server.CreateHandler() };

        foreach (var (args, member, count) in new[]
        {
            (new[] { "events", "list" }, "events", 2),
            (["events", "show", "paged-1"], "capacity", 3),
            (["pricing", "list", adult.Id.ToString()], "pricing", 2),
            (["allocations", "list", pool.Id.ToString()], "allocations", 2),
            (["limits", "list", "paged-1"], "limits", 2),
            (["admin", "keys", "list", tenant.Id.ToString()], "keys", 2),
        })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var key = args[0] == "admin" ? CapacityHost.AdminKey : tenant.Key;
            var exit = await CapacityCli.RunAsync(["--url", "http://localhost/", .. args, "--json", "--key", key], pages, output, error, _ => null, default);

            Assert.True(exit == ExitCodes.Ok, $"{string.Join(' ', args)}: exit {exit}, {error}");
            using var doc = JsonDocument.Parse(output.ToString());
            Assert.True(doc.RootElement.GetProperty(member).GetArrayLength() == count, $"{string.Join(' ', args)}: {output}");
            Assert.False(doc.RootElement.TryGetProperty("next_after", out _), $"{string.Join(' ', args)}: {output}");
        }

        // Every tenant of the host, read page after page, this one among them, and as a table without --json.
        var listed = new StringWriter();
        var failed = new StringWriter();
        Assert.Equal(ExitCodes.Ok, await CapacityCli.RunAsync(["--url", "http://localhost/", "admin", "tenants", "list", "--json", "--key", CapacityHost.AdminKey], pages, listed, failed, _ => null, default));
        using (var doc = JsonDocument.Parse(listed.ToString()))
        {
            var ids = doc.RootElement.GetProperty("tenants").EnumerateArray().Select(x => x.GetProperty("tenant_id").GetGuid()).ToList();
            Assert.Equal(ids.Count, ids.Distinct().Count());
            Assert.Contains(tenant.Id, ids);
        }

        var table = new StringWriter();
        Assert.Equal(ExitCodes.Ok, await CapacityCli.RunAsync(["--url", "http://localhost/", "admin", "tenants", "list", "--key", CapacityHost.AdminKey], pages, table, failed, _ => null, default));
        Assert.Contains(tenant.Id.ToString(), table.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The lines of a capacity's Sale cell (the table's last column) in <c>events show</c>: on the row that shows its id and on
    /// the lines under it that continue the row (no id of their own).
    /// </summary>
    private static string[] Sale(string[] lines, Guid id)
    {
        var row = Array.FindIndex(lines, l => l.Contains(id.ToString(), StringComparison.Ordinal));
        Assert.True(row >= 0, $"No row shows {id}.");
        var cells = new List<string>();
        for (var i = row; i < lines.Length && (i == row || Regex.IsMatch(lines[i], @"^│ +│ +│")); i++)
        {
            var cell = lines[i].TrimEnd()[..^1];
            cells.Add(cell[(cell.LastIndexOf('│') + 1)..].Trim());
        }

        return [.. cells];
    }

    /// <summary>The value printed beside <paramref name="name"/> in a view of name and value pairs.</summary>
    private static string Pair(string output, string name) =>
        Assert.Single(output.Split('\n'), l => l.StartsWith(name + "  ", StringComparison.Ordinal))[name.Length..].Trim();

    /// <summary>Runs <c>capacities create</c> and answers the new capacity's id.</summary>
    private async Task<Guid> CreateByCliAsync(TestTenant tenant, string eventId, string name, params string[] options)
    {
        var run = await host.RunCliAsync(["capacities", "create", eventId, name, .. options, "--json", "--key", tenant.Key]);
        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
        using var created = JsonDocument.Parse(run.Output);
        return created.RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>Seed 004's theatre: a pool of 100, Adult capped at 50 inside it, Child sharing it.</summary>
    private static async Task<(CapacityDetails Pool, CapacityDetails Adult, CapacityDetails Child)> TheatreAsync(CapacityClient t, string eventId)
    {
        var pool = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Theatre", TotalCapacity = 100 });
        var adult = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Adult", TotalCapacity = 50, ParentIds = [pool.Id] });
        var child = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Child", ParentIds = [pool.Id] });
        return (pool, adult, child);
    }

    /// <summary>Passes every request on to the server and remembers its method, path and Idempotency-Key.</summary>
    private sealed class Recorder : DelegatingHandler
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(string Method, string Path, string? Key)> _requests = new();

        public IReadOnlyList<(string Method, string Path, string? Key)> Requests => [.. _requests];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var key = request.Headers.TryGetValues(CapacityClient.IdempotencyKeyHeader, out var values) ? values.Single() : null;
            _requests.Enqueue((request.Method.Method, request.RequestUri!.AbsolutePath, key));
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Answers every third hold (<c>POST /capacity/{id}/reserve</c>) 503 itself; passes everything else on to the server.</summary>
    private sealed class EveryThirdHoldUnavailable : DelegatingHandler
    {
        private int _holds;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            request.RequestUri!.AbsolutePath.EndsWith("/reserve", StringComparison.Ordinal) && Interlocked.Increment(ref _holds) % 3 == 0
                ? Task.FromResult(StubHandler.Unavailable())
                : base.SendAsync(request, cancellationToken);
    }

    /// <summary>Hands out the event stream so that a read cancelled under it throws an IOException around the cancellation.</summary>
    private sealed class CancelledReadsBreak : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.EndsWith("/capacity/stream", StringComparison.Ordinal))
            {
                var inner = response.Content;
                response.Content = new StreamContent(new BreakingStream(await inner.ReadAsStreamAsync(cancellationToken)));
                foreach (var header in inner.Headers)
                {
                    response.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            return response;
        }

        private sealed class BreakingStream(Stream inner) : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                try
                {
                    return await inner.ReadAsync(buffer, cancellationToken);
                }
                catch (OperationCanceledException ex)
                {
                    throw new IOException(string.Empty, ex);
                }
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }

                base.Dispose(disposing);
            }
        }
    }

    /// <summary>Passes every request on to the server but <c>GET /events/{id}/stats</c>, which it answers only when cancelled.</summary>
    private sealed class StatsHeldBack : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/stats", StringComparison.Ordinal))
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Collects what the command prints and lets the test wait until some of it has arrived.</summary>
    private sealed class LineWriter : StringWriter
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The complete lines so far.</summary>
        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return CompleteLines();
                }
            }
        }

        public override void Write(char value) => Locked(() => base.Write(value));

        public override void Write(string? value) => Locked(() => base.Write(value));

        public override void Write(char[] buffer, int index, int count) => Locked(() => base.Write(buffer, index, count));

        public override void WriteLine(string? value) => Locked(() => base.WriteLine(value));

        public Task WaitForAsync(int lines, CancellationToken ct) => WaitAsync(l => l.Count >= lines, ct);

        public Task WaitForAsync(string text, CancellationToken ct) => WaitAsync(l => l.Any(line => line.Contains(text, StringComparison.Ordinal)), ct);

        private async Task WaitAsync(Func<IReadOnlyList<string>, bool> done, CancellationToken ct)
        {
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    if (done(CompleteLines()))
                    {
                        return;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(ct);
            }
        }

        private string[] CompleteLines()
        {
            var text = GetStringBuilder().ToString();
            return text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }

        private void Locked(Action write)
        {
            lock (_gate)
            {
                write();
                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }
}

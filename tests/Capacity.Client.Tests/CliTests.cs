using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Capacity.Cli;

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
        foreach (var word in new[] { "tenants", "events", "reserve", "confirm", "release", "watch", "verify", "--url", "--key", "--json", "Exit codes" })
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
    public async Task Watch_exits_6_when_the_service_ends_the_stream()
    {
        var snapshot = """{"event_id":"e","capacity":[],"totals":{"event_id":"e","total_capacity":0,"available_capacity":0,"reserved_capacity":0,"sold_count":0,"has_unlimited":false},"holds":{"active":0,"expiring":[]}}""";
        var stub = new StubHandler((_, _) => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent($"event: heartbeat\ndata: {{}}\n\nevent: snapshot\ndata: {snapshot}\n\n", System.Text.Encoding.UTF8, "text/event-stream"),
        });
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["watch", "e", "--json", "--key", "k"], stub, output, error, _ => null, default);

        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal(snapshot, output.ToString().Trim());
        Assert.Contains("closed the stream", error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Seed 004's theatre: a pool of 100, Adult capped at 50 inside it, Child sharing it.</summary>
    private static async Task<(CapacityDetails Pool, CapacityDetails Adult, CapacityDetails Child)> TheatreAsync(CapacityClient t, string eventId)
    {
        var pool = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Theatre", TotalCapacity = 100 });
        var adult = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Adult", TotalCapacity = 50, ParentIds = [pool.Id] });
        var child = await t.CreateCapacityAsync(eventId, new CreateCapacityRequest { SectionName = "Child", ParentIds = [pool.Id] });
        return (pool, adult, child);
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

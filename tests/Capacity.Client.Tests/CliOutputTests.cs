using System.Diagnostics;
using Capacity.Cli;
using Spectre.Console;

namespace Capacity.Client.Tests;

/// <summary>What the capacity command prints when something goes wrong, and how its event table reads.</summary>
public sealed class CliOutputTests(CapacityHost host) : IClassFixture<CapacityHost>
{
    [Fact]
    public async Task A_service_that_accepts_but_never_answers_exits_6_with_one_error_line_after_the_retries()
    {
        // What HttpClient throws when its Timeout elapses, on every attempt.
        var stub = new StubHandler((_, _) => throw new TaskCanceledException(
            "The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing.", new TimeoutException("The operation was canceled.")));
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["reserve", Guid.NewGuid().ToString(), "-q", "1", "--key", "k"], stub, new StringWriter(), error, _ => null, default);

        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal(4, stub.Calls);
        var line = Assert.Single(Lines(error));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("did not answer within", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_kind_of_network_failure_the_SDK_can_surface_exits_6_with_one_error_line()
    {
        foreach (var failure in new Func<Exception>[]
        {
            () => new HttpRequestException("Connection refused"),
            () => new IOException("Connection reset by peer"),
            () => new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely."),
            () => new OperationCanceledException("The operation was canceled."),
            () => new TaskCanceledException("A task was canceled."),
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync(["events", "list", "--key", "k"], new StubHandler((_, _) => throw failure()), new StringWriter(), error, _ => null, default);

            Assert.True(exit == ExitCodes.Unavailable, $"{failure().GetType().Name}: exit {exit}, {error}");
            Assert.StartsWith("error: ", Assert.Single(Lines(error)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Ctrl_C_while_the_service_does_not_answer_is_still_exit_130()
    {
        var hang = new Hang();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var error = new StringWriter();

        var exit = await CapacityCli.RunAsync(["events", "list", "--key", "k"], hang, new StringWriter(), error, _ => null, stop.Token);

        Assert.Equal(ExitCodes.Interrupted, exit);
        Assert.Equal("Interrupted.", Assert.Single(Lines(error)));
    }

    [Fact]
    public async Task A_validation_error_whose_one_field_says_what_the_detail_says_is_printed_once()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 10 });
        var hold = await tenant.Client.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });

        var run = await host.RunCliAsync("extend", hold.Reservation.Id.ToString(), "--minutes", "200", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        var line = Assert.Single(Lines(run.Error));
        Assert.StartsWith("error: 400 VALIDATION_ERROR: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_number_or_a_time_the_command_cannot_read_is_named_in_words_not_as_a_dotnet_type()
    {
        var stub = new StubHandler((_, _) => throw new UnreachableException());
        var id = Guid.NewGuid().ToString();
        foreach (var (args, expected) in new[]
        {
            (new[] { "reserve", id, "-q", "two" }, "--quantity must be a whole number"),
            (["reserve", id, "-q", "1", "--minutes", "ten"], "--minutes must be a whole number"),
            (["admin", "keys", "issue", id, "--expires", "tomorrow"], "--expires must be an ISO 8601 date-time"),
            (["pricing", "create", id, "--name", "A", "--price", "cheap", "--currency", "EUR"], "--price must be a number"),
        })
        {
            var error = new StringWriter();
            var exit = await CapacityCli.RunAsync([.. args, "--key", "k"], stub, new StringWriter(), error, _ => null, default);

            Assert.True(exit == ExitCodes.Usage, $"{string.Join(' ', args)}: exit {exit}, {error}");
            Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("System.", error.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, stub.Calls);
    }

    [Fact]
    public async Task An_unknown_command_is_reported_alone_not_with_a_missing_command_too()
    {
        var run = await host.RunCliAsync("frobnicate");

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Equal(["error: Unrecognized command or argument 'frobnicate'.", "Run 'capacity --help' for usage."], Lines(run.Error));
    }

    [Fact]
    public async Task A_waiting_list_of_one_ticket_says_1_ticket()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 1 });
        await tenant.Client.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });
        await tenant.Client.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        await tenant.Client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(hall.Id, 1)] });

        var run = await host.RunCliAsync("waitlist", "disable", hall.Id.ToString(), "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("1 ticket ", run.Output + " ", StringComparison.Ordinal);
        Assert.DoesNotContain("1 tickets", run.Output, StringComparison.Ordinal);
        Assert.Contains("0 tickets", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lapsed_entry_says_why_it_lapsed_and_the_sdk_reads_the_reason()
    {
        var tenant = await host.NewTenantAsync();
        var hall = await tenant.Client.CreateCapacityAsync("e", new CreateCapacityRequest { SectionName = "Hall", TotalCapacity = 1 });
        var hold = await tenant.Client.ReserveAsync(hall.Id, new ReserveRequest { Quantity = 1 });
        await tenant.Client.UpdateCapacityAsync(hall.Id, new UpdateCapacityRequest { Waitlist = new WaitlistPatch { Enabled = true } });
        var entry = await tenant.Client.JoinWaitlistAsync(new JoinWaitlistRequest { Items = [new(hall.Id, 1)] });
        await tenant.Client.ReleaseAsync(hold.Reservation.Id);
        await tenant.Client.ReleaseAsync(entry.Id);

        Assert.Equal((WaitlistStatus.Lapsed, WaitlistLapseReasons.OfferReleased), ((await tenant.Client.GetWaitlistEntryAsync(entry.Id)) is var read ? (read.Status, read.LapsedReason) : default));
        var run = await host.RunCliAsync("waitlist", "show", entry.Id.ToString(), "--key", tenant.Key);
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("its offer was released", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_check_on_an_early_bird_closed_by_its_sell_out_says_so_and_one_switched_off_says_inactive()
    {
        var tenant = await host.NewTenantAsync();
        var early = await tenant.Client.CreateCapacityAsync("tiers", new CreateCapacityRequest { SectionName = "Early", TotalCapacity = 1 });
        await tenant.Client.CreateCapacityAsync("tiers", new CreateCapacityRequest { SectionName = "Regular", TotalCapacity = 5, OpensAfterSoldOutOf = early.Id });
        await tenant.Client.ReserveAsync(early.Id, new ReserveRequest { Quantity = 1 });
        var off = await tenant.Client.CreateCapacityAsync("tiers", new CreateCapacityRequest { SectionName = "Off", TotalCapacity = 5 });
        await tenant.Client.UpdateCapacityAsync(off.Id, new UpdateCapacityRequest { IsActive = false });

        var closed = await host.RunCliAsync("capacities", "check", early.Id.ToString(), "-q", "1", "--key", tenant.Key);
        var inactive = await host.RunCliAsync("capacities", "check", off.Id.ToString(), "-q", "1", "--key", tenant.Key);

        Assert.Contains("(closed: sold out)", closed.Output, StringComparison.Ordinal);
        Assert.Contains("(inactive)", inactive.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("sold out", inactive.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_allocation_says_closed_in_its_own_row_and_draws_no_held_back_bar()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("fest", new CreateCapacityRequest { SectionName = "Arena", TotalCapacity = 1000 });
        var sponsor = await tenant.Client.CreateAllocationAsync(pool.Id, new CreateAllocationRequest { Name = "Sponsor", Quantity = 10 });
        await tenant.Client.CloseAllocationAsync(sponsor.Id);

        var run = await host.RunCliAsync("events", "show", "fest", "--key", tenant.Key);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var lines = run.Output.Split('\n');
        var row = Assert.Single(lines, l => l.Contains(sponsor.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains("closed", row, StringComparison.Ordinal);
        Assert.DoesNotContain("·", row, StringComparison.Ordinal);
        Assert.Single(lines, l => l.Contains("closed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Events_show_prints_totals_with_the_same_thousands_separators_as_the_other_counts()
    {
        var tenant = await host.NewTenantAsync();
        var arena = await tenant.Client.CreateCapacityAsync("big", new CreateCapacityRequest { SectionName = "Arena", TotalCapacity = 1000 });

        var run = await host.RunCliAsync("events", "show", "big", "--key", tenant.Key);

        var row = Assert.Single(run.Output.Split('\n'), l => l.Contains(arena.Id.ToString(), StringComparison.Ordinal));
        var cells = row.Split('│').Select(c => c.Trim()).ToArray();
        Assert.Equal(("Arena", "1,000", "1,000"), (cells[1], cells[4], cells[7]));
    }

    [Fact]
    public async Task In_a_terminal_narrower_than_the_table_the_id_column_goes_before_any_bar_wraps()
    {
        var tenant = await host.NewTenantAsync();
        var pool = await tenant.Client.CreateCapacityAsync("narrow", new CreateCapacityRequest { SectionName = "Theatre", TotalCapacity = 100, SaleEndsAt = DateTimeOffset.UtcNow.AddDays(30) });
        await tenant.Client.CreateCapacityAsync("narrow", new CreateCapacityRequest { SectionName = "Live-stream", ParentIds = [pool.Id] });
        await tenant.Client.ReserveAsync(pool.Id, new ReserveRequest { Quantity = 30 });
        var output = new StringWriter();
        var terminal = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        terminal.Profile.Width = 110;

        var exit = await CapacityCli.RunAsync(
            ["--url", "http://localhost/", "events", "show", "narrow", "--key", tenant.Key], host.Server.CreateHandler(), terminal, output, new StringWriter(), _ => null, default);

        Assert.Equal(ExitCodes.Ok, exit);
        var lines = output.ToString().Split('\n');
        Assert.All(lines, l => Assert.True(l.TrimEnd().Length <= 110, $"Wider than the terminal: {l}"));
        Assert.DoesNotContain(pool.Id.ToString(), output.ToString(), StringComparison.Ordinal);

        // The whole bar on one line: 6 cells reserved, 14 available.
        Assert.Single(lines, l => l.Contains("Theatre", StringComparison.Ordinal) && l.Contains("▒▒▒▒▒▒░░░░░░░░░░░░░░", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("Live-stream", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tenants_create_run_again_with_the_same_key_exits_7_and_says_which_key_to_revoke_rather_than_printing_no_key()
    {
        var key = "tenant-" + Guid.NewGuid().ToString("N");
        var first = await host.RunCliAsync("tenants", "create", "Replay Hall", "--json", "--key", CapacityHost.AdminKey, "--idempotency-key", key);
        var second = await host.RunCliAsync("tenants", "create", "Replay Hall", "--json", "--key", CapacityHost.AdminKey, "--idempotency-key", key);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        using var created = System.Text.Json.JsonDocument.Parse(first.Output);
        var tenantId = created.RootElement.GetProperty("tenant_id").GetString()!;
        var keyId = created.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        Assert.Equal(ExitCodes.ApiError, second.ExitCode);
        Assert.Equal("", second.Output);
        var line = Assert.Single(Lines(second.Error));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains($"capacity admin keys issue {tenantId}", line, StringComparison.Ordinal);
        Assert.Contains($"capacity admin keys revoke {tenantId} {keyId}", line, StringComparison.Ordinal);
    }

    private static string[] Lines(StringWriter writer) => Lines(writer.ToString());

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Never answers: only cancellation ends the wait.</summary>
    private sealed class Hang : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new UnreachableException();
        }
    }
}

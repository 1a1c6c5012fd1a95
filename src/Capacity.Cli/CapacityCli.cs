using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json;
using Capacity.Client;
using Spectre.Console;

namespace Capacity.Cli;

/// <summary>The <c>capacity</c> command: its entry point and its command tree.</summary>
public static partial class CapacityCli
{
    private const string DefaultUrl = "http://localhost:5050";

    public static async Task<int> Main(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl+C stops the command cleanly; a second one ends the process at once.
            e.Cancel = !interrupt.IsCancellationRequested;
            interrupt.Cancel();
        };
        return await RunAsync(args, null, Console.Out, Console.Error, Environment.GetEnvironmentVariable, interrupt.Token);
    }

    /// <summary>
    /// Runs one command line. Main passes the real console and environment; tests pass the test
    /// server's handler, writers they read back, and the variables they want.
    /// </summary>
    /// <param name="args">The command line, without the program name.</param>
    /// <param name="handler">The HTTP handler to use; a new socket handler when null.</param>
    /// <param name="output">Where results go: tables, or JSON lines with --json.</param>
    /// <param name="error">Where errors go.</param>
    /// <param name="environment">Reads CAPACITY_URL, CAPACITY_KEY and CAPACITY_ADMIN_KEY.</param>
    /// <param name="cancellationToken">Ctrl+C: stops the running command.</param>
    /// <returns>One of <see cref="ExitCodes"/>.</returns>
    public static Task<int> RunAsync(
        string[] args, HttpMessageHandler? handler, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken) =>
        RunAsync(args, handler, null, output, error, environment, cancellationToken);

    /// <summary>
    /// Runs one command line drawing its views on <paramref name="console"/>, which must write to <paramref name="output"/>:
    /// for a test of what a terminal gets (a live <c>watch</c>), which a writer alone never is. Null: the console
    /// <paramref name="output"/> makes, as for the public overload.
    /// </summary>
    internal static async Task<int> RunAsync(
        string[] args, HttpMessageHandler? handler, IAnsiConsole? console, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        var host = new Host(handler, console, output, error, environment);
        var root = Build(host);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var e in parse.Errors.Where(e => !FollowsFromUnknownToken(parse, e)))
            {
                await error.WriteLineAsync($"error: {e.Message}");
            }

            await error.WriteLineAsync("Run 'capacity --help' for usage.");
            return ExitCodes.Usage;
        }

        // A key names one request: on a command that sends none it would mean nothing, and on one that sends
        // several the second request would get the first one's answer (or 422), so both are refused outright.
        if (IsGiven(parse.GetResult(host.IdempotencyKey)) && !host.SendsOneWrite(parse.CommandResult.Command))
        {
            await error.WriteLineAsync($"error: --idempotency-key is for a command that sends exactly one write; '{CommandPath(parse.CommandResult)}' sends none or several.");
            return ExitCodes.Usage;
        }

        // Ctrl+C is handled by Main (or the test), which owns the token; unexpected exceptions are
        // bugs and should surface with their stack, not as an exit code that means something else.
        var configuration = new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        return await parse.InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>
    /// Whether <paramref name="e"/> is a group's "Required command was not provided" after a token that was not understood
    /// (<c>capacity frobnicate</c>): the unknown token is the mistake, and the missing command only follows from it.
    /// </summary>
    /// <remarks>
    /// The library gives both errors the same command as their symbol, so the unknown token's own error is told apart by
    /// naming the token.
    /// </remarks>
    private static bool FollowsFromUnknownToken(ParseResult parse, System.CommandLine.Parsing.ParseError e) =>
        parse.UnmatchedTokens.Count > 0
        && e.SymbolResult is System.CommandLine.Parsing.CommandResult { Command: { Action: null, Subcommands.Count: > 0 } }
        && !parse.UnmatchedTokens.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal));

    /// <summary>What every command shares: where to write, how to connect, and the global options.</summary>
    private sealed class Host(HttpMessageHandler? handler, IAnsiConsole? console, TextWriter output, TextWriter error, Func<string, string?> environment)
    {
        public HttpMessageHandler? Handler { get; } = handler;

        /// <summary>The console views are drawn on; null: the one <see cref="CreateConsole"/> makes for <see cref="Output"/>.</summary>
        public IAnsiConsole? Console { get; } = console;

        public TextWriter Output { get; } = output;

        public TextWriter Error { get; } = error;

        public Func<string, string?> Environment { get; } = environment;

        public readonly Option<string?> Url = new("--url")
        {
            Description = $"The service's URL [env: CAPACITY_URL; default: {DefaultUrl}]",
            Recursive = true,
        };

        public readonly Option<string?> Key = new("--key")
        {
            Description = "The API key; for tenants, admin and verify, the admin key [env: CAPACITY_KEY; admin: CAPACITY_ADMIN_KEY, then CAPACITY_KEY]",
            Recursive = true,
        };

        public readonly Option<bool> Json = new("--json")
        {
            Description = "Print the API's JSON, one document per line, instead of tables",
            Recursive = true,
        };

        public readonly Option<string?> IdempotencyKey = new("--idempotency-key")
        {
            Description = $"The Idempotency-Key of a command that sends one write, to run it again safely after a lost answer: a repeat gets the first answer and does nothing again ({IdempotencyKeyRule})",
            HelpName = "key",
            Recursive = true,
            Validators = { ValidateIdempotencyKey },
        };

        // Commands are marked where they are built, next to the call that passes the key on; any other refuses the option.
        private readonly HashSet<Command> _oneWrite = [];

        /// <summary>Marks <paramref name="command"/> as sending exactly one write, which takes <c>--idempotency-key</c>.</summary>
        public Command OneWrite(Command command)
        {
            _oneWrite.Add(command);
            return command;
        }

        public bool SendsOneWrite(Command command) => _oneWrite.Contains(command);

        /// <summary>The key given with <c>--idempotency-key</c>, or null for the SDK's own, new per command.</summary>
        public string? IdempotencyKeyOf(ParseResult parse) => parse.GetValue(IdempotencyKey);
    }

    private static RootCommand Build(Host host)
    {
        var root = new RootCommand("Capacity: tenants, events, capacities and their sale rules, pricing, allocations, per-buyer limits, waiting lists, holds and sales, webhooks, a live view, sales figures, the ledger and a load test of the ticket-capacity service.\n\n" + ExitCodes.Help)
        {
            host.Url, host.Key, host.Json, host.IdempotencyKey,
        };

        var tenantName = new Argument<string>("name") { Description = "The tenant's name" };

        // admin keys issue's options, but for the key's name: <name> is the tenant's here.
        var firstKeyName = new Option<string?>("--key-name") { Description = "What its first key is for, such as \"box office\"" };
        var firstKeyScope = ScopeOption();
        var firstKeyExpires = ExpiresOption();
        var createTenant = new Command("create", "Create a tenant and its first API key (admin); the key's text is printed once")
        {
            tenantName, firstKeyName, firstKeyScope, firstKeyExpires,
        };
        host.OneWrite(createTenant);
        createTenant.SetAction((p, ct) => Run(host, p, admin: true, ct, async (c, client) =>
        {
            // Without any of the key's options the body is the name alone, as before they existed.
            var (keyName, scope, expires) = (p.GetValue(firstKeyName), p.GetValue(firstKeyScope), p.GetValue(firstKeyExpires));
            var request = new CreateTenantRequest
            {
                Name = p.GetRequiredValue(tenantName),
                Key = keyName is null && scope is null && expires is null ? null : new IssueKeyRequest { Name = keyName, Scope = scope, ExpiresAt = expires },
            };
            var key = await client.CreateTenantAsync(request, host.IdempotencyKeyOf(p), ct);
            c.Write(key, CliJson.Default.TenantKey, () => Views.Tenant(key));
            return ExitCodes.Ok;
        }));

        var tenantId = new Argument<Guid>("tenant-id") { Description = "The tenant" };
        var issueKey = new Command("keys", "Issue another API key for a tenant (admin)") { tenantId };
        host.OneWrite(issueKey);
        issueKey.SetAction((p, ct) => Run(host, p, admin: true, ct, async (c, client) =>
        {
            var key = await client.IssueKeyAsync(p.GetValue(tenantId), host.IdempotencyKeyOf(p), ct);
            c.Write(key, CliJson.Default.TenantKey, () => Views.Tenant(key));
            return ExitCodes.Ok;
        }));

        var whoami = new Command("whoami", "Show the tenant and scope of the key in use (read, write or elevated), as the service sees it");
        whoami.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var credential = await client.GetCredentialAsync(ct);
            c.Write(credential, CliJson.Default.CredentialInfo, () => Views.Credential(credential));
            return ExitCodes.Ok;
        }));

        var listEvents = new Command("list", "List the tenant's events");
        listEvents.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var events = await client.ListEventsAsync(ct);
            c.Write(new EventList(events), CliJson.Default.EventList, () => Views.Events(events));
            return ExitCodes.Ok;
        }));

        var showEvent = EventArgument();
        var show = new Command("show", "Show an event's capacities as a tree, with counters, bars and totals") { showEvent };
        show.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var eventId = p.GetRequiredValue(showEvent);
            var capacity = await client.ListCapacityAsync(eventId, ct);
            if (capacity.Count == 0)
            {
                // The API answers an empty list for an event it has never seen; to a person that is "not found".
                await c.Host.Error.WriteLineAsync($"error: event {eventId} has no capacities.");
                return ExitCodes.NotFound;
            }

            var totals = await client.GetTotalsAsync(eventId, ct);
            c.Write(new EventView(eventId, capacity, totals), CliJson.Default.EventView, () => Views.Event(eventId, capacity, totals, c.Console));
            return ExitCodes.Ok;
        }));

        var capacityId = new Argument<Guid>("capacity-id") { Description = "The capacity to hold tickets of" };
        var quantity = new Option<int>("--quantity", "-q") { Description = "Tickets to hold", Required = true };
        var minutes = new Option<int?>("--minutes", "-m") { Description = HoldMinutesDescription };
        var pricing = new Option<Guid?>("--pricing", "-p") { Description = "A price entry whose price the hold locks" };
        var allocation = new Option<Guid?>("--allocation", "-a") { Description = "An allocation of the capacity to draw the tickets from" };
        var buyer = new Option<string?>("--buyer", "-b") { Description = "The buyer's key, for per-buyer limits (1 to 128 printable characters)" };
        var reference = new Option<string?>("--ref") { Description = "Your own reference, such as an order or cart id (1 to 128 characters): kept, shown, and found by reservations list --ref" };
        var meta = new Option<Dictionary<string, string>?>("--meta")
        {
            Description = "Your own note on the hold as key=value, kept and shown; repeat for each (at most 16)",
            HelpName = "key=value",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = MetadataOf,
        };
        var reserve = new Command("reserve", "Hold tickets of one capacity") { capacityId, quantity, minutes, pricing, allocation, buyer, reference, meta };
        host.OneWrite(reserve);
        reserve.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var request = new ReserveRequest
            {
                Quantity = p.GetValue(quantity),
                ReservationMinutes = p.GetValue(minutes),
                PricingId = p.GetValue(pricing),
                AllocationId = p.GetValue(allocation),
                BuyerKey = p.GetValue(buyer),
                ExternalRef = p.GetValue(reference),
                Metadata = p.GetValue(meta),
            };
            var result = await client.ReserveAsync(p.GetValue(capacityId), request, host.IdempotencyKeyOf(p), ct);
            c.Write(result, CliJson.Default.ReserveResult, () => Views.Reservation(result.Reservation, result.Capacity));
            return ExitCodes.Ok;
        }));

        var release = Transition(host, "release", "Release a hold: the tickets go back", (client, id, key, ct) => client.ReleaseAsync(id, key, ct));

        var verify = new Command("verify", "Audit every counter against the ledger (admin); exit code 1 when something disagrees");
        verify.SetAction((p, ct) => Run(host, p, admin: true, ct, async (c, client) =>
        {
            var report = await client.VerifyAsync(ct);
            c.Write(report, CliJson.Default.VerifyReport, () => Views.Verify(report));
            return report.Ok ? ExitCodes.Ok : ExitCodes.Violations;
        }));

        root.Add(new Command("tenants", "Tenants and their API keys (admin)") { createTenant, issueKey });
        root.Add(whoami);
        root.Add(new Command("events", "The tenant's events") { listEvents, show });
        root.Add(CapacityCommands(host));
        root.Add(PricingCommands(host));
        root.Add(AllocationCommands(host));
        root.Add(LimitCommands(host));
        root.Add(WaitlistCommands(host));
        root.Add(WebhookCommands(host));
        root.Add(ReservationCommands(host));
        root.Add(reserve);
        root.Add(ChangeCommand(host));
        root.Add(ExtendCommand(host));
        root.Add(ConfirmCommand(host));
        root.Add(release);
        root.Add(CancelCommand(host));
        root.Add(WatchCommand(host));
        root.Add(StatsCommand(host));
        root.Add(LedgerCommand(host));
        root.Add(BenchCommand(host));
        root.Add(verify);
        root.Add(AdminCommands(host));
        ReadValues(root);
        return root;
    }

    /// <summary>
    /// Gives every id, number and time (argument or option) of <paramref name="command"/> and the commands under it that has
    /// no parser of its own one whose error names it in words: the library's own says "Cannot parse argument … as expected
    /// type 'System.Guid'" (or 'System.Int32', or 'System.Nullable`1[System.DateTimeOffset]'). Done once over the tree, so
    /// that a value added later cannot miss it.
    /// </summary>
    private static void ReadValues(Command command)
    {
        foreach (var argument in command.Arguments)
        {
            switch (argument)
            {
                case Argument<Guid> { CustomParser: null } id:
                    id.CustomParser = r => IdOf(r, id.Name);
                    break;
                case Argument<long> { CustomParser: null } number:
                    number.CustomParser = r => WholeOf(r, number.Name);
                    break;
            }
        }

        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<Guid> { CustomParser: null } id:
                    id.CustomParser = r => IdOf(r, id.Name);
                    break;
                case Option<Guid?> { CustomParser: null } maybe:
                    maybe.CustomParser = r => IdOf(r, maybe.Name);
                    break;
                case Option<int> { CustomParser: null } number:
                    number.CustomParser = r => (int)WholeOf(r, number.Name, int.MinValue, int.MaxValue);
                    break;
                case Option<int?> { CustomParser: null } number:
                    number.CustomParser = r => (int)WholeOf(r, number.Name, int.MinValue, int.MaxValue);
                    break;
                case Option<long?> { CustomParser: null } number:
                    number.CustomParser = r => WholeOf(r, number.Name);
                    break;
                case Option<decimal> { CustomParser: null } number:
                    number.CustomParser = r => DecimalOf(r, number.Name);
                    break;
                case Option<decimal?> { CustomParser: null } number:
                    number.CustomParser = r => DecimalOf(r, number.Name);
                    break;
                case Option<double> { CustomParser: null } number:
                    number.CustomParser = r => (double)DecimalOf(r, number.Name);
                    break;
                case Option<DateTimeOffset?> { CustomParser: null } time:
                    time.CustomParser = r => TimeOf(r, time.Name);
                    break;
            }
        }

        foreach (var subcommand in command.Subcommands)
        {
            ReadValues(subcommand);
        }
    }

    /// <summary>The one token of a value, or null when there is none (the library then reports what is missing itself).</summary>
    private static string? TokenOf(System.CommandLine.Parsing.ArgumentResult result) => result.Tokens.Count == 0 ? null : result.Tokens[0].Value;

    private static long WholeOf(System.CommandLine.Parsing.ArgumentResult result, string name, long min = long.MinValue, long max = long.MaxValue)
    {
        if (TokenOf(result) is not { } text)
        {
            return 0;
        }

        if (!long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            result.AddError($"{name} must be a whole number, such as 2, not '{text}'.");
            return 0;
        }

        return value;
    }

    private static decimal DecimalOf(System.CommandLine.Parsing.ArgumentResult result, string name)
    {
        if (TokenOf(result) is not { } text)
        {
            return 0;
        }

        if (!decimal.TryParse(text, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            result.AddError($"{name} must be a number, such as 12.50, not '{text}'.");
        }

        return value;
    }

    private static DateTimeOffset? TimeOf(System.CommandLine.Parsing.ArgumentResult result, string name)
    {
        if (TokenOf(result) is not { } text)
        {
            return null;
        }

        // As the library read it: a time without an offset is the machine's local time, as the options' help says.
        if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var value))
        {
            result.AddError($"{name} must be an ISO 8601 date-time, such as 2030-05-01T18:00:00Z (without an offset it is local time), not '{text}'.");
            return null;
        }

        return value;
    }

    private static Guid IdOf(System.CommandLine.Parsing.ArgumentResult result, string name)
    {
        // None: the library reports the missing argument itself.
        if (result.Tokens.Count == 0)
        {
            return default;
        }

        var text = result.Tokens[0].Value;
        if (!Guid.TryParse(text, out var id))
        {
            result.AddError($"{name} must be an id (a UUID), such as 0199a5a0-1b2c-7d3e-8f40-5a6b7c8d9e0f, not '{text}'.");
        }

        return id;
    }

    private static Argument<string> EventArgument() => new("event") { Description = "The event id" };

    /// <summary>
    /// The hold length's help. No number: the service's default is its operator's setting (15 minutes unless changed),
    /// which the command cannot know.
    /// </summary>
    private const string HoldMinutesDescription = "How long the hold lasts, in minutes [default: the service's, 15 unless its operator changed it]";

    /// <summary>A reservation's one write, given the command's Idempotency-Key (null for the SDK's own).</summary>
    private static Command Transition(Host host, string name, string description, Func<CapacityClient, Guid, string?, CancellationToken, Task<Reservation>> call) =>
        host.OneWrite(Call(host, name, description, ReservationArgument(),
            CliJson.Default.Reservation, r => Views.Reservation(r), (p, client, id, ct) => call(client, id, host.IdempotencyKeyOf(p), ct)));

    /// <summary>
    /// A tenant command with one argument (the id of a reservation, capacity, allocation or limit, or an
    /// event) that makes one call and prints what the service answers: the view, or its JSON with --json.
    /// </summary>
    private static Command Call<TArgument, T>(
        Host host,
        string name,
        string description,
        Argument<TArgument> argument,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type,
        Func<T, Spectre.Console.Rendering.IRenderable> view,
        Func<ParseResult, CapacityClient, TArgument, CancellationToken, Task<T>> call,
        params Option[] options)
    {
        var command = new Command(name, description) { argument };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((p, ct) => Run(host, p, admin: false, ct, async (c, client) =>
        {
            var result = await call(p, client, p.GetRequiredValue(argument), ct);
            c.Write(result, type, () => view(result));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>An update with nothing to change is a slip on the command line, refused before anything is sent.</summary>
    private static void RequireAny(Command command, params Option[] options) =>
        command.Validators.Add(result =>
        {
            if (!options.Any(o => IsGiven(result.GetResult(o))))
            {
                result.AddError($"Give at least one of {string.Join(", ", options.Select(o => o.Name))}.");
            }
        });

    /// <summary>An option as a field of a partial update: sent when it is on the command line, left out otherwise.</summary>
    private static Optional<T> Given<T>(ParseResult parse, Option<T> option) =>
        IsGiven(parse.GetResult(option)) ? new Optional<T>(parse.GetValue(option)!) : default;

    /// <summary>
    /// Whether the option is on the command line. A bool option has a result even when it is not (an implicit
    /// one, for its default of false), so "has a result" would send <c>false</c> for every switch left out.
    /// </summary>
    private static bool IsGiven(System.CommandLine.Parsing.OptionResult? result) => result is { Implicit: false };

    /// <summary>
    /// Reads a repeated id option (<c>--capacity</c>, <c>--parent</c>). Without it, a malformed id in a list is not a
    /// parse error: reading the value throws instead, and the command ends with a stack trace rather than exit 2.
    /// </summary>
    private static Guid[] IdsOf(System.CommandLine.Parsing.ArgumentResult result)
    {
        var ids = new Guid[result.Tokens.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            if (!Guid.TryParse(result.Tokens[i].Value, out ids[i]))
            {
                result.AddError($"'{result.Tokens[i].Value}' is not a capacity id, such as 0199a5a0-1b2c-7d3e-8f40-5a6b7c8d9e0f.");
                return [];
            }
        }

        return ids;
    }

    /// <summary>Runs one command's body with a client for the right key, and turns failures into exit codes.</summary>
    private static async Task<int> Run(Host host, ParseResult parse, bool admin, CancellationToken ct, Func<Invocation, CapacityClient, Task<int>> body)
    {
        var json = parse.GetValue(host.Json);
        var idempotencyKey = host.IdempotencyKeyOf(parse);
        var url = Value(parse.GetValue(host.Url)) ?? Value(host.Environment("CAPACITY_URL")) ?? DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            await host.Error.WriteLineAsync($"error: --url must be an http or https URL, not '{url}'.");
            return ExitCodes.Usage;
        }

        var key = Value(parse.GetValue(host.Key))
            ?? (admin ? Value(host.Environment("CAPACITY_ADMIN_KEY")) : null)
            ?? Value(host.Environment("CAPACITY_KEY"));
        if (key is null)
        {
            await host.Error.WriteLineAsync(admin
                ? "error: this command needs the admin key: pass --key, or set CAPACITY_ADMIN_KEY or CAPACITY_KEY."
                : "error: this command needs an API key: pass --key or set CAPACITY_KEY.");
            return ExitCodes.Usage;
        }

        // The SDK does not say whether an answer was replayed; the CLI, which owns the connection, looks for itself.
        var answers = new ReplayWatch { InnerHandler = host.Handler ?? new SocketsHttpHandler() };
        using var http = new HttpClient(answers, disposeHandler: host.Handler is null)
        {
            BaseAddress = baseAddress,

            // Per attempt. A watch is not cut by it: the timeout ends once the stream's headers arrive.
            Timeout = AttemptTimeout,
        };
        var client = new CapacityClient(http, key);
        var invocation = new Invocation(host, host.Console ?? CreateConsole(host.Output), json, http, key);
        var secretLost = false;
        try
        {
            return await body(invocation, client);
        }
        catch (CapacityApiException ex)
        {
            if (json && ex.Problem is { } problem)
            {
                await host.Error.WriteLineAsync(problem.GetRawText());
            }
            else
            {
                await host.Error.WriteLineAsync($"error: {ex.Message}");
                foreach (var (field, messages) in ex.Errors)
                {
                    // A field whose message is the detail itself (every 400 about one field) would only say it twice.
                    var message = string.Join(" ", messages);
                    if (message != ex.Detail)
                    {
                        await host.Error.WriteLineAsync($"  {field}: {message}");
                    }
                }

                // A refused reclaim says which capacities fall short: what to lower, or to wait for.
                foreach (var shortfall in ex.Shortfall ?? [])
                {
                    await host.Error.WriteLineAsync($"  {shortfall.CapacityId}: {shortfall.Requested} asked for, {shortfall.Available} available");
                }
            }

            return ExitCodes.FromStatus(ex.Status);
        }
        catch (SecretNotShownException ex)
        {
            // Exit 0 with "(not shown)" would let a script store nothing as the key or secret and carry on; the service did
            // what was asked, but the one thing the command is for cannot be printed, so it is an error that says what to do.
            secretLost = true;
            await host.Error.WriteLineAsync("error: " + SecretLostAdvice(ex));
            return ExitCodes.ApiError;
        }
        catch (HttpRequestException ex)
        {
            await host.Error.WriteLineAsync($"error: cannot reach {baseAddress}: {ex.Message}");
            return ExitCodes.Unavailable;
        }
        catch (IOException ex)
        {
            // A connection that broke while a response (a watch's stream, say) was being read.
            await host.Error.WriteLineAsync($"error: the connection to {baseAddress} broke: {ex.Message}");
            return ExitCodes.Unavailable;
        }
        catch (JsonException ex)
        {
            await host.Error.WriteLineAsync($"error: the service sent an answer this command cannot read: {ex.Message}");
            return ExitCodes.ApiError;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await host.Error.WriteLineAsync("Interrupted.");
            return ExitCodes.Interrupted;
        }
        catch (OperationCanceledException ex)
        {
            // Not Ctrl+C: HttpClient's timeout on the last attempt (a TimeoutException inside), as from a service that takes
            // the connection and never answers (overloaded, stopped, a proxy that black-holes). An outage, not a bug.
            await host.Error.WriteLineAsync(ex.InnerException is TimeoutException
                ? $"error: {baseAddress} did not answer within the timeout ({AttemptTimeout.TotalSeconds:0} s an attempt), on any attempt."
                : $"error: the request to {baseAddress} was cancelled before it was answered: {ex.Message}");
            return ExitCodes.Unavailable;
        }
        finally
        {
            // Only for the user's own key: a replay of the SDK's key answers its retry of this same command, which is
            // nothing to report. On stderr, so that --json output stays one clean document. A lost secret's error says it.
            if (idempotencyKey is not null && answers.Replayed && !secretLost)
            {
                await host.Error.WriteLineAsync(ReplayedNotice);
            }
        }
    }

    private static string? Value(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>How long one attempt of a request may wait for its answer's headers.</summary>
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>What a replayed key or secret means for the person at the command line, in the commands that mend it.</summary>
    private static string SecretLostAdvice(SecretNotShownException ex)
    {
        const string Replay = "the service answered with a replay of an earlier request with the same Idempotency-Key (an earlier run, or an attempt whose answer was lost), and a replay cannot show";
        if (ex.WebhookId is { } webhook)
        {
            return $"{Replay} webhook {webhook}'s signing secret again: only the first answer had it. If it is lost, run 'capacity webhooks rotate-secret {webhook}' for a new one.";
        }

        var revoke = ex.KeyId is { } key
            ? $"'capacity admin keys revoke {ex.TenantId} {key}'"
            : $"'capacity admin keys revoke {ex.TenantId} <key-id>' for the lost one (see 'capacity admin keys list {ex.TenantId}')";
        return $"{Replay} the API key of tenant {ex.TenantId} again: only the first answer had it. If it is lost, run 'capacity admin keys issue {ex.TenantId}' for another, then {revoke}.";
    }

    /// <summary>
    /// A real terminal gets colours and live redraws; anything else (a file, a pipe, a test's
    /// writer) gets plain text, wide enough that a table of ids does not wrap.
    /// </summary>
    private static IAnsiConsole CreateConsole(TextWriter output)
    {
        var target = new AnsiConsoleOutput(output);
        if (target.IsTerminal)
        {
            return AnsiConsole.Create(new AnsiConsoleSettings { Out = target });
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = target,
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160;
        return console;
    }

    /// <summary>
    /// One command's run: the host, its console, whether to print JSON, and the connection and key its client uses,
    /// for a command that needs a client of other settings (<c>bench</c>: no retries, and the admin key for its audit).
    /// </summary>
    private sealed record Invocation(Host Host, IAnsiConsole Console, bool Json, HttpClient Http, string Key)
    {
        /// <summary>Writes a result: the API's JSON on one line, or its human view.</summary>
        public void Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, Func<Spectre.Console.Rendering.IRenderable> view)
        {
            if (Json)
            {
                Host.Output.WriteLine(JsonSerializer.Serialize(value, type));
            }
            else
            {
                Console.Write(view());
                Console.WriteLine();
            }
        }
    }
}

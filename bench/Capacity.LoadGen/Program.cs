using System.CommandLine;
using Capacity.LoadGen;

// HTTP load against a running Capacity server, from its own tenant and event; then the server's audit.
var url = new Option<string>("--url") { Description = "the server", DefaultValueFactory = _ => "http://127.0.0.1:5050" };
var adminKey = new Option<string?>("--admin-key") { Description = "the server's admin key (default: $CAPACITY_ADMIN_KEY)" };
var connections = new Option<int>("--connections") { Description = "keep-alive connections, one request in flight on each", DefaultValueFactory = _ => 64 };
var duration = new Option<double>("--duration") { Description = "measured seconds", DefaultValueFactory = _ => 10 };
var warmup = new Option<double>("--warmup") { Description = "seconds of load before measuring", DefaultValueFactory = _ => 1 };
var scenario = new Option<string>("--scenario") { Description = "onsale, soldout, reads, rules, mix or hostile", DefaultValueFactory = _ => "onsale" };
scenario.AcceptOnlyFromAmong("onsale", "soldout", "reads", "rules", "mix", "hostile");
var mix = new Option<string>("--mix") { Description = "mix weights: hold, cart, confirm, release, check, read", DefaultValueFactory = _ => Plan.DefaultMix };
var pool = new Option<int?>("--pool") { Description = "total of the pool (default 1,000,000; 100 for soldout)" };
var serverPid = new Option<int?>("--server-pid") { Description = "also report the CPU the server process used during the measured window" };
var webhook = new Option<bool>("--webhook") { Description = "subscribe the tenant to every webhook event, received by a listener here (the server needs Capacity:Webhooks:AllowPrivateNetworks); the rules scenario always does" };
var webhookUrl = new Option<string?>("--webhook-url") { Description = "with --webhook or the rules scenario: subscribe this endpoint instead of a listener here (needed with --setup-only, whose listener would end with it)" };
var rules = new Option<string>("--rules") { Description = "the rules scenario's rules: all, or some of allocation, waitlist, limit, webhook", DefaultValueFactory = _ => "all" };
var echo = new Option<bool>("--echo") { Description = "aim onsale or reads at bench/Capacity.Echo: the same requests, with no setup and no audit" };
var setupOnly = new Option<bool>("--setup-only") { Description = "create the tenant and event, print their key and ids, and exit" };
// The hostile scenario's (issue 21): its own shape, so its own options; --duration is the other tenant's window.
var sections = new Option<int>("--sections") { Description = "hostile: sections of 1,000 under the hostile tenant's pool", DefaultValueFactory = _ => 9_999 };
var holds = new Option<int>("--holds") { Description = "hostile: live single-ticket holds of 60 minutes the hostile tenant places", DefaultValueFactory = _ => 100_000 };
var holdConcurrency = new Option<int>("--hold-concurrency") { Description = "hostile: holds in flight at once during its setup", DefaultValueFactory = _ => 48 };
var streams = new Option<int>("--streams") { Description = "hostile: event streams the hostile tenant opens", DefaultValueFactory = _ => 500 };
var heavyLoops = new Option<int>("--heavy-loops") { Description = "hostile: concurrent loops of the whole unpaged list of its event", DefaultValueFactory = _ => 64 };
var settle = new Option<string>("--settle") { Description = "hostile: seconds after the load ends at which the server's memory is read", DefaultValueFactory = _ => "10,30" };
var noVerify = new Option<bool>("--no-verify") { Description = "hostile: skip GET /admin/verify at the end" };

var root = new RootCommand("Capacity HTTP load generator")
{
    url, adminKey, connections, duration, warmup, scenario, mix, pool, serverPid, webhook, webhookUrl, rules, echo, setupOnly,
    sections, holds, holdConcurrency, streams, heavyLoops, settle, noVerify,
};
root.SetAction((parse, ct) =>
{
    if (parse.GetValue(scenario) == "hostile")
    {
        var admin = parse.GetValue(adminKey) ?? Environment.GetEnvironmentVariable("CAPACITY_ADMIN_KEY");
        var after = parse.GetValue(settle)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // RSS is read from /proc/<pid>, so the server must run on this machine.
        if (string.IsNullOrEmpty(admin) || parse.GetValue(serverPid) is not { } pid || parse.GetValue(duration) <= 0 || parse.GetValue(sections) < 1
            || parse.GetValue(holds) < 0 || parse.GetValue(holdConcurrency) < 1 || parse.GetValue(streams) < 0 || parse.GetValue(heavyLoops) < 0
            || !after.All(a => int.TryParse(a, System.Globalization.CultureInfo.InvariantCulture, out var x) && x >= 0))
        {
            Console.Error.WriteLine("--scenario hostile needs --admin-key and --server-pid (a server on this machine), --duration above 0, --sections and --hold-concurrency at least 1, --settle as seconds joined by commas.");
            return Task.FromResult(2);
        }

        return Hostile.RunAsync(new HostileSettings(
            parse.GetValue(url)!, admin, pid, parse.GetValue(duration), parse.GetValue(sections), parse.GetValue(holds), parse.GetValue(holdConcurrency),
            parse.GetValue(streams), parse.GetValue(heavyLoops), [.. after.Select(a => int.Parse(a, System.Globalization.CultureInfo.InvariantCulture))], !parse.GetValue(noVerify)), ct);
    }

    Plan plan;
    try
    {
        plan = Plan.For(parse.GetValue(scenario)!, parse.GetValue(mix)!, parse.GetValue(pool), parse.GetValue(rules)!);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine(e.Message);
        return Task.FromResult(2);
    }

    var key = parse.GetValue(adminKey) ?? Environment.GetEnvironmentVariable("CAPACITY_ADMIN_KEY");
    var settings = new Settings(
        parse.GetValue(url)!, key ?? "", parse.GetValue(connections), parse.GetValue(duration), parse.GetValue(warmup), plan, parse.GetValue(serverPid), parse.GetValue(setupOnly),
        parse.GetValue(webhook), parse.GetValue(webhookUrl), parse.GetValue(echo));
    if ((string.IsNullOrEmpty(settings.AdminKey) && !settings.Echo) || settings.Connections < 1 || settings.Duration <= 0 || settings.Warmup < 0)
    {
        Console.Error.WriteLine("--admin-key (or CAPACITY_ADMIN_KEY) is required; --connections must be at least 1, --duration above 0, --warmup at least 0.");
        return Task.FromResult(2);
    }

    if (settings.Echo && (plan.Scenario is not ("onsale" or "reads") || settings.SetupOnly || settings.Webhook))
    {
        Console.Error.WriteLine("--echo answers holds and reads only: --scenario onsale or reads, without --setup-only or --webhook.");
        return Task.FromResult(2);
    }

    if (settings.SetupOnly && (settings.Webhook || plan.RulesOn.HasFlag(Rules.Webhook)) && settings.WebhookUrl is null)
    {
        Console.Error.WriteLine("--setup-only with a webhook subscriber needs --webhook-url: a listener here would end with this process.");
        return Task.FromResult(2);
    }

    return Runner.RunAsync(settings, ct);
});
return await root.Parse(args).InvokeAsync();

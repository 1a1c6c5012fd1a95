using System.CommandLine;
using Capacity.Engine;
using Capacity.EngineBench;

// In-process durable holds: N concurrent submitters on one hot event, through the real engine and a
// real store, then the audit. Exits non-zero when an invariant or an acknowledged hold is broken.
var store = new Option<string>("--store") { Description = "sqlite or postgres", DefaultValueFactory = _ => "sqlite" };
store.AcceptOnlyFromAmong("sqlite", "postgres");
var batching = new Option<string>("--batching") { Description = "on: group commit; off: one transaction per command", DefaultValueFactory = _ => "on" };
batching.AcceptOnlyFromAmong("on", "off");
var clients = new Option<int>("--clients") { Description = "concurrent submitters, each waiting for its answer before the next hold", DefaultValueFactory = _ => 1000 };
var duration = new Option<double>("--duration") { Description = "measured seconds (onsale, soldout)", DefaultValueFactory = _ => 5 };
var warmup = new Option<double>("--warmup") { Description = "seconds run before measuring (onsale, soldout; expiry: seconds of smaller place-and-sweep rounds)", DefaultValueFactory = _ => 1 };
var connection = new Option<string?>("--connection") { Description = "PostgreSQL connection string; without it a throwaway cluster is started (fsync on)" };
var scenario = new Option<string>("--scenario")
{
    Description = "onsale, soldout, expiry, fill, stats (a day of sales, then GET /events/{id}/stats's reads timed), "
        + "floor (SQLite: the reservation rows alone, as the writer inserts them, nothing decided), or sweep (CPU per commit at each of --sizes, and the fixed-plus-per-hold fit)",
    DefaultValueFactory = _ => "onsale",
};
scenario.AcceptOnlyFromAmong("onsale", "soldout", "expiry", "fill", "stats", "floor", "sweep");
var sizes = new Option<string>("--sizes") { Description = "batch sizes for --scenario sweep, comma-separated", DefaultValueFactory = _ => "1,2,4,8,16,32,64,128,256,500" };
var sync = new Option<string>("--sync") { Description = "SQLite, --scenario sweep: on (synchronous=FULL, as the server runs) or off (no fsync: the fixed CPU without the flush's)", DefaultValueFactory = _ => "on" };
sync.AcceptOnlyFromAmong("on", "off");
var holds = new Option<int>("--holds") { Description = "holds to place (expiry, fill, stats)", DefaultValueFactory = _ => 100_000 };
var maxBatch = new Option<int>("--max-batch") { Description = "most commands per transaction", DefaultValueFactory = _ => new EngineOptions().MaxBatch };
var buyers = new Option<bool>("--buyers") { Description = "fill: each hold names a buyer, four holds a buyer, keys of 16 hex digits as a platform's hashed ones (the audit's per-buyer work)" };
var sqlitePath = new Option<string?>("--sqlite-path") { Description = "create the SQLite database here and keep it (default: a temporary file, deleted)" };

var root = new RootCommand("Capacity engine benchmark: durable single-ticket holds on one hot event")
{
    store, batching, clients, duration, warmup, connection, scenario, holds, maxBatch, sqlitePath, sizes, sync, buyers,
};
root.SetAction((parse, ct) =>
{
    var settings = new Settings(
        parse.GetValue(store)!,
        parse.GetValue(batching) == "on",
        parse.GetValue(clients),
        parse.GetValue(duration),
        parse.GetValue(warmup),
        parse.GetValue(connection),
        parse.GetValue(scenario)!,
        parse.GetValue(holds),
        parse.GetValue(maxBatch),
        parse.GetValue(sqlitePath),
        parse.GetValue(buyers));
    if (settings.Clients < 1 || settings.Duration <= 0 || settings.Warmup < 0 || settings.Holds < 1 || settings.MaxBatch < 1)
    {
        return Task.FromResult(Fail("--clients, --holds and --max-batch must be at least 1, --duration above 0, --warmup at least 0."));
    }

    if (settings.Scenario == "floor")
    {
        return settings.Store == "sqlite" ? RowFloor.RunAsync(settings, ct) : Task.FromResult(Fail("--scenario floor measures SQLite only."));
    }

    if (settings.Scenario == "sweep")
    {
        var batchSizes = parse.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => int.TryParse(v, out var n) && n >= 1 ? n : 0).ToArray();
        return batchSizes.Length < 2 || batchSizes.Contains(0)
            ? Task.FromResult(Fail("--sizes takes two or more batch sizes of at least 1, comma-separated."))
            : Sweep.RunAsync(settings, batchSizes, parse.GetValue(sync) == "on", ct);
    }

    return Bench.RunAsync(settings, ct);
});
return await root.Parse(args).InvokeAsync();

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}

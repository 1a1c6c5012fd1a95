using System.Globalization;

namespace Capacity.LoadGen;

internal enum Operation
{
    /// <summary><c>POST /capacity/{id}/reserve</c>, one ticket.</summary>
    Hold,
    /// <summary><c>POST /reservations</c>, one ticket of each child.</summary>
    Cart,
    /// <summary><c>POST /reservations/{id}/confirm</c> of one of this connection's holds.</summary>
    Confirm,
    /// <summary><c>POST /reservations/{id}/release</c> of one of this connection's holds.</summary>
    Release,
    /// <summary><c>POST /capacity/{id}/check</c>, one ticket.</summary>
    Check,
    /// <summary><c>GET /capacity/{id}</c>.</summary>
    Read,
}

/// <summary>The rules the rules scenario switches on (<c>--rules</c>); each alone shows what it costs.</summary>
[Flags]
internal enum Rules
{
    None = 0,
    /// <summary>An open allocation on the pool.</summary>
    Allocation = 1,
    /// <summary>Waiting lists on the capped child and on a section not yet on sale, with an entry there owed units on the pool.</summary>
    Waitlist = 2,
    /// <summary>A per-buyer limit over the pool and its children; holds then name a buyer.</summary>
    Limit = 4,
    /// <summary>A webhook subscriber to every event type.</summary>
    Webhook = 8,
    All = Allocation | Waitlist | Limit | Webhook,
}

/// <summary>Which operations a scenario sends, by weight, how large its pool is, and which rules are on.</summary>
internal sealed class Plan
{
    public const string DefaultMix = "hold=40,cart=10,confirm=15,release=10,check=10,read=15";

    private readonly (Operation Op, int Upto)[] _table;
    private readonly int _total;

    private Plan(string scenario, IReadOnlyList<(Operation Op, int Weight)> weights, int poolTotal, int cappedTotal, Rules rules = Rules.None)
    {
        Scenario = scenario;
        RulesOn = rules;
        Weights = weights;
        PoolTotal = poolTotal;
        CappedTotal = cappedTotal;
        var upto = 0;
        _table = [.. weights.Select(w => (w.Op, upto += w.Weight))];
        _total = upto;
    }

    public string Scenario { get; }
    public IReadOnlyList<(Operation Op, int Weight)> Weights { get; }
    public int PoolTotal { get; }
    public int CappedTotal { get; }

    /// <summary>The rules scenario's: onsale's holds on a pool with these rules on (see <see cref="Target"/>); none otherwise.</summary>
    public Rules RulesOn { get; }

    /// <summary>
    /// onsale: single-ticket holds on a pool large enough never to run out; soldout: the same on a
    /// pool of 100 (the capped child 50), so after the first 100 nearly everything is a 409;
    /// reads: <c>GET /capacity/{id}</c>; rules: onsale's holds with <paramref name="rules"/> (all by
    /// default: an allocation, waiting lists, a per-buyer limit and a webhook subscriber) on the pool;
    /// mix: the weights given.
    /// </summary>
    public static Plan For(string scenario, string mix, int? pool, string rules = "all") => scenario switch
    {
        "onsale" => new Plan(scenario, [(Operation.Hold, 1)], pool ?? 1_000_000, pool ?? 1_000_000),
        "soldout" => new Plan(scenario, [(Operation.Hold, 1)], pool ?? 100, (pool ?? 100) / 2),
        "reads" => new Plan(scenario, [(Operation.Read, 1)], pool ?? 1_000_000, pool ?? 1_000_000),
        "rules" => new Plan(scenario, [(Operation.Hold, 1)], pool ?? 1_000_000, pool ?? 1_000_000, ParseRules(rules)),
        "mix" => new Plan(scenario, ParseMix(mix), pool ?? 1_000_000, pool ?? 1_000_000),
        _ => throw new ArgumentException($"Unknown scenario {scenario}.", nameof(scenario)),
    };

    public Operation Pick(Random random)
    {
        if (_table.Length == 1)
        {
            return _table[0].Op;
        }

        var x = random.Next(_total);
        foreach (var (op, upto) in _table)
        {
            if (x < upto)
            {
                return op;
            }
        }

        return _table[^1].Op;
    }

    private static Rules ParseRules(string rules)
    {
        var on = Rules.None;
        foreach (var name in rules.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            on |= Enum.TryParse<Rules>(name, ignoreCase: true, out var rule) && !int.TryParse(name, out _)
                ? rule
                : throw new ArgumentException($"--rules: '{name}' is not one of all, {string.Join(", ", Enum.GetNames<Rules>()[1..^1]).ToLowerInvariant()}.");
        }

        return on != Rules.None ? on : throw new ArgumentException("--rules names no rule.");
    }

    private static List<(Operation, int)> ParseMix(string mix)
    {
        var weights = new List<(Operation, int)>();
        foreach (var part in mix.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !Enum.TryParse<Operation>(kv[0], ignoreCase: true, out var op)
                || !int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
            {
                throw new ArgumentException($"--mix: '{part}' is not operation=weight (operations: {string.Join(", ", Enum.GetNames<Operation>()).ToLowerInvariant()}).");
            }

            if (weight > 0)
            {
                weights.Add((op, weight));
            }
        }

        return weights.Count > 0 ? weights : throw new ArgumentException("--mix names no operation with a weight above 0.");
    }
}

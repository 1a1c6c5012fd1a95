using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Capacity.Server.Http;

/// <summary>
/// Refused credentials, counted per client address in windows of a minute. Past
/// <c>Auth:FailedAttemptsPerMinute</c> in a window, an address's refused requests are answered 429
/// <c>TOO_MANY_AUTH_FAILURES</c> with <c>Retry-After</c>, and a key the node has never resolved is not
/// even looked up (<see cref="Authenticator.IdentifyAsync"/>): only failures are throttled. A good key
/// the node already knows, the admin key and a valid JWT from the same address are served as ever, so
/// one bad client behind a shared address does not lock out the others. A request with no credential,
/// or with a disabled tenant's, guesses nothing: it is counted in the metric, not against the budget.
/// <para>
/// A successful request never comes here. Every refusal is counted in <c>capacity_auth_failures_total</c>
/// by reason, and reported in a warning at most every <see cref="LogInterval"/>, never a line per failure
/// (<see cref="Report"/>): an address going over its budget at once, by name, unless a warning went out
/// less than that ago; other refusals within <see cref="LogInterval"/>, even if no request follows them.
/// Memory is bounded: at most <see cref="MaxAddresses"/> addresses are tracked. When the table is full,
/// room is made (<see cref="MakeRoom"/>) by dropping the addresses whose minute has passed, then those
/// with the fewest failures; an address over its budget is what the table is for, and is kept. An
/// address without an entry is never over budget: no address is throttled for failures it did not make
/// itself. (A table shared by every address it has no room for did that: a flood of addresses filled
/// it, and from then on every address not in the table, a client that had never failed included, got
/// 429 for a key not seen before.)
/// </para>
/// </summary>
internal sealed class AuthFailures : IDisposable
{
    public const int MaxAddresses = 10_000;

    /// <summary>What each <see cref="MakeRoom"/> frees at least, of the table: one scan for many new addresses, not one per address.</summary>
    private const int FreedShare = 10;

    /// <summary>How many addresses that went over one warning names; it counts the rest.</summary>
    private const int NamedAddresses = 10;

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private static readonly Counter<long> Failures = ServerMetrics.Meter.CreateCounter<long>(
        "capacity.auth.failures", description: "Requests refused for their credential, by reason (throttled: answered 429 TOO_MANY_AUTH_FAILURES)");

    private static readonly string[] ReasonNames = [.. Enum.GetNames<Refusal>().Select(JsonNamingPolicy.SnakeCaseLower.ConvertName)];

    private readonly int _limit;
    private readonly TimeProvider _time;
    private readonly ILogger<AuthFailures> _logger;
    private readonly long _windowTicks;
    private readonly long _logTicks;
    private readonly int _maxAddresses;
    private readonly ConcurrentDictionary<IPAddress, Tally> _tallies = new();

    // Held to add an address, so the table never grows past its bound, and while room is made. Only
    // refusals from addresses not yet in the table take it: a credential that works never comes here.
    private readonly Lock _adding = new();
    private long _nextRoomAt;

    // What the next warning reports (refusals, and the addresses that went over, since the last one),
    // and when it is due: held under _reporting, which only refusals take.
    private readonly Lock _reporting = new();
    private readonly ITimer _reportTimer;
    private readonly List<IPAddress> _wentOver = [];
    private long _nextLogAt;
    private long _firstUnreportedAt;
    private long _timerDueAt = long.MaxValue;
    private int _failuresSinceLog;
    private int _overSinceLog;

    /// <param name="maxAddresses">How many addresses are tracked at most: <see cref="MaxAddresses"/>, fewer in tests.</param>
    public AuthFailures(AuthOptions options, TimeProvider time, ILogger<AuthFailures> logger, IMeterFactory? meters = null, int maxAddresses = MaxAddresses)
    {
        _limit = options.FailedAttemptsPerMinute;
        _maxAddresses = maxAddresses;
        _time = time;
        _logger = logger;
        _windowTicks = (long)(Window.TotalSeconds * time.TimestampFrequency);
        _logTicks = (long)(LogInterval.TotalSeconds * time.TimestampFrequency);

        // Not flowing the context: the warnings it writes belong to no request, least of all to the one
        // that happened to resolve this singleton first.
        using (ExecutionContext.SuppressFlow())
        {
            _reportTimer = time.CreateTimer(_ => ReportDue(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        // The gauge reads this instance's table, so it lives on a meter of this host's (IMeterFactory), not on
        // the process-wide one: two servers in one process (the tests) each report their own.
        meters?.Create("Capacity.Server.Auth").CreateObservableGauge(
            "capacity.auth.throttled_addresses", () => ThrottledAddresses,
            description: "Client addresses whose refused requests are answered 429 TOO_MANY_AUTH_FAILURES now");
    }

    /// <summary>How many addresses are tracked now.</summary>
    internal int TrackedAddresses => _tallies.Count;

    /// <summary>
    /// Addresses over their budget in their current window: a scan of at most <see cref="MaxAddresses"/>
    /// entries, made when /metrics is read, never on a request.
    /// </summary>
    internal int ThrottledAddresses
    {
        get
        {
            if (_limit <= 0)
            {
                return 0;
            }

            var now = _time.GetTimestamp();
            var over = 0;
            foreach (var tally in _tallies.Values)
            {
                lock (tally)
                {
                    over += tally.Count >= _limit && now - tally.Started < _windowTicks ? 1 : 0;
                }
            }

            return over;
        }
    }

    /// <summary>
    /// Whether the address has used up its budget in the current window: a dictionary lookup. An address
    /// the table does not hold has not: its own failures are all that can put it over.
    /// </summary>
    public bool IsOverBudget(IPAddress? address)
    {
        if (_limit <= 0 || !_tallies.TryGetValue(Key(address), out var tally))
        {
            return false;
        }

        lock (tally)
        {
            return tally.Count >= _limit && _time.GetTimestamp() - tally.Started < _windowTicks;
        }
    }

    /// <summary>What to do with a refused request: answer its refusal, or 429 with the seconds to wait.</summary>
    public readonly record struct Throttle(int? RetryAfterSeconds);

    /// <summary>Counts a refused request; says whether it is to be answered 429, and how long the address must wait.</summary>
    public Throttle Record(IPAddress? address, Refusal refusal)
    {
        Failures.Add(1, new KeyValuePair<string, object?>("reason", ReasonNames[(int)refusal]));
        if (_limit <= 0 || refusal is Refusal.NoCredential or Refusal.TenantDisabled)
        {
            return default;
        }

        var key = Key(address);
        var now = _time.GetTimestamp();
        if (TallyOf(key, now) is not { } tally)
        {
            // No room: every address held is over its budget. This one goes uncounted (its keys looked
            // up) until a minute ends and makes room, rather than letting one that guessed too much go on.
            Report(key, wentOver: false);
            return default;
        }

        int count;
        long started;
        lock (tally)
        {
            if (now - tally.Started >= _windowTicks)
            {
                (tally.Started, tally.Count) = (now, 0);
            }

            count = ++tally.Count;
            started = tally.Started;
        }

        Report(key, wentOver: count == _limit + 1);
        if (count <= _limit && refusal != Refusal.Throttled)
        {
            return default;
        }

        var left = TimeSpan.FromSeconds((double)(started + _windowTicks - now) / _time.TimestampFrequency);
        return new Throttle(Math.Max(1, (int)Math.Ceiling(left.TotalSeconds)));
    }

    /// <summary>The address's tally, added if need be; null when the table is full and no room can be made now.</summary>
    private Tally? TallyOf(IPAddress key, long now)
    {
        if (_tallies.TryGetValue(key, out var tally))
        {
            return tally;
        }

        lock (_adding)
        {
            if (_tallies.TryGetValue(key, out tally))
            {
                return tally;
            }

            if (_tallies.Count >= _maxAddresses && !MakeRoom(now))
            {
                return null;
            }

            tally = new Tally();
            _tallies[key] = tally;
            return tally;
        }
    }

    /// <summary>
    /// Frees at least a tenth of the table (called with it full, under <see cref="_adding"/>): first the
    /// addresses whose minute has passed, then those with the fewest failures in theirs, the oldest first
    /// among equals. An address over its budget is never dropped: it is the one guessing, and dropping
    /// it would let it guess again. So a flood of new addresses pushes out only its like (and a client
    /// that failed once or twice, which loses nothing by being forgotten). When nothing can be freed,
    /// every address held being over budget, the next try waits a second, so such a table is not scanned
    /// for each new address.
    /// </summary>
    private bool MakeRoom(long now)
    {
        if (now < _nextRoomAt)
        {
            return false;
        }

        var target = _maxAddresses - Math.Max(1, _maxAddresses / FreedShare);
        var candidates = new List<(IPAddress Address, int Count, long Started)>(_tallies.Count);
        foreach (var (address, tally) in _tallies)
        {
            lock (tally)
            {
                var count = now - tally.Started >= _windowTicks ? 0 : tally.Count;
                if (count < _limit)
                {
                    candidates.Add((address, count, tally.Started));
                }
            }
        }

        candidates.Sort(static (a, b) => a.Count != b.Count ? a.Count.CompareTo(b.Count) : a.Started.CompareTo(b.Started));
        var toFree = _tallies.Count - target;
        foreach (var (address, count, _) in candidates)
        {
            // Every window that ended goes, needed or not (it holds nothing); then the fewest failures, until a tenth is free.
            if (toFree <= 0 && count > 0)
            {
                break;
            }

            _tallies.TryRemove(address, out _);
            toFree--;
        }

        if (_tallies.Count < _maxAddresses)
        {
            return true;
        }

        _nextRoomAt = now + _time.TimestampFrequency;
        return false;
    }

    public void Dispose() => _reportTimer.Dispose();

    /// <summary>
    /// Adds a refusal to the next warning, and writes it if it is due. One warning per
    /// <see cref="LogInterval"/> at most: an address going over is what an operator must hear of, so it
    /// is written at once, naming the address, unless the last warning is less than that old (then as
    /// soon as it is that old); other refusals wait for one to go over, or for <see cref="LogInterval"/>
    /// after the first of them. A timer writes a warning that falls due with no refusal to write it: the
    /// guesser that stops sending still gets its warning, and names its own address, not the address of
    /// whatever refusal came next.
    /// </summary>
    private void Report(IPAddress address, bool wentOver)
    {
        Warning? warning;
        lock (_reporting)
        {
            var now = _time.GetTimestamp();
            if (_failuresSinceLog++ == 0)
            {
                _firstUnreportedAt = now;
            }

            if (wentOver && _overSinceLog++ < NamedAddresses)
            {
                _wentOver.Add(address);
            }

            warning = TakeIfDue(now);
        }

        Write(warning);
    }

    /// <summary>The timer's turn: writes what fell due with no refusal to write it.</summary>
    private void ReportDue()
    {
        Warning? warning;
        lock (_reporting)
        {
            _timerDueAt = long.MaxValue;
            warning = _failuresSinceLog == 0 ? null : TakeIfDue(_time.GetTimestamp());
        }

        Write(warning);
    }

    /// <summary>
    /// Under <see cref="_reporting"/>: the warning, when it is due, starting the next
    /// <see cref="LogInterval"/>; otherwise null, with the timer set for when it will be.
    /// </summary>
    private Warning? TakeIfDue(long now)
    {
        var due = Math.Max(_nextLogAt, _overSinceLog > 0 ? now : _firstUnreportedAt + _logTicks);
        if (now < due)
        {
            if (due < _timerDueAt)
            {
                _timerDueAt = due;
                _reportTimer.Change(_time.GetElapsedTime(now, due), Timeout.InfiniteTimeSpan);
            }

            return null;
        }

        var named = string.Join(", ", _wentOver) + (_overSinceLog > _wentOver.Count ? $" and {_overSinceLog - _wentOver.Count} more" : "");
        var warning = new Warning(_failuresSinceLog, _overSinceLog, named);
        (_failuresSinceLog, _overSinceLog, _nextLogAt) = (0, 0, now + _logTicks);
        _wentOver.Clear();

        // A timer set for this warning must not write the next one early.
        if (_timerDueAt != long.MaxValue)
        {
            _timerDueAt = long.MaxValue;
            _reportTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        return warning;
    }

    private void Write(Warning? warning)
    {
        if (warning is not { } w)
        {
            return;
        }

        if (w.Over == 0)
        {
            _logger.LogWarning(
                "{Failures} requests refused for their credential since the last report; no address went over Auth:FailedAttemptsPerMinute ({Limit})",
                w.Failures, _limit);
            return;
        }

        _logger.LogWarning(
            "{Failures} requests refused for their credential since the last report; {Over} addresses went over Auth:FailedAttemptsPerMinute ({Limit}) "
            + "and get 429 for the rest of their minute: {Addresses}",
            w.Failures, w.Over, _limit, w.Addresses);
    }

    /// <summary>What one warning says: refusals, and the addresses that went over (named up to <see cref="NamedAddresses"/>), since the last.</summary>
    private readonly record struct Warning(int Failures, int Over, string Addresses);

    /// <summary>
    /// The address a client is counted under: IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4),
    /// IPv6 by its /64, which one host can fill with addresses of its own. A request with no address (the
    /// in-process test server) counts under <see cref="IPAddress.None"/>.
    /// </summary>
    internal static IPAddress Key(IPAddress? address)
    {
        if (address is null)
        {
            return IPAddress.None;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>One address's window: when it started (a monotonic timestamp) and how many refusals it has seen.</summary>
    private sealed class Tally
    {
        public long Started = long.MinValue / 2;
        public int Count;
    }
}

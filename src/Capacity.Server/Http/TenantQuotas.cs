using System.Collections.Concurrent;
using System.Diagnostics;
using Capacity.Engine;

namespace Capacity.Server.Http;

/// <summary>What one tenant may hold of the server's shared resources, bound from <c>Capacity:Quotas</c>.</summary>
internal sealed class QuotaOptions
{
    /// <summary>Live streams one tenant may have open on one node at once; 429 <c>TOO_MANY_STREAMS</c> beyond.</summary>
    public int MaxStreamsPerTenant { get; set; } = 100;

    /// <summary>Capacities one event may have; 409 <c>TOO_MANY_CAPACITIES</c> for one more.</summary>
    public int MaxCapacitiesPerEvent { get; set; } = 2_000;

    /// <summary>Active holds one tenant may have at once; 429 <c>TOO_MANY_LIVE_HOLDS</c> for a new hold beyond. 0 turns it off.</summary>
    public int MaxLiveHoldsPerTenant { get; set; } = 200_000;

    /// <summary>Usable keys (neither revoked nor expired) one tenant may have; 409 <c>TOO_MANY_KEYS</c> for one more.</summary>
    public int MaxKeysPerTenant { get; set; } = 100;

    /// <summary>How often the tenants' active holds are counted again from the store.</summary>
    public int LiveHoldsRefreshMs { get; set; } = 2_000;

    /// <summary>
    /// Bytes per second one tenant's streams on one node are sent together; a stream over its tenant's
    /// share waits and is then sent the latest snapshot only. 0 turns it off.
    /// </summary>
    public long StreamBytesPerSecondPerTenant { get; set; } = 32L << 20;

    /// <summary>
    /// Heavy reads (whole events, lists, ledger pages, statistics) one tenant may run at once on one
    /// node; more wait their turn. Half the processors, at least one, unless set.
    /// </summary>
    public int HeavyReadsPerTenant { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);
}

/// <summary>
/// Keeps one tenant from taking what every tenant shares: a stream costs a connection and a share of
/// the event's snapshots, a capacity makes every snapshot of its event larger, a live hold makes every
/// count and the expiry sweep longer. Each is bounded per tenant, refused with its own code, and
/// documented in docs/reliability.md. Streams are counted exactly on each node; live holds from a
/// count of the store refreshed every <see cref="QuotaOptions.LiveHoldsRefreshMs"/>, plus the holds
/// this node placed or is placing since, so on one node the bound is exact and with several a burst can
/// pass it by what the other nodes placed since the last count (a bound on what one tenant costs the
/// others, not a rule of the sale).
/// </summary>
internal sealed class TenantQuotas(QuotaOptions options, IReadStore store, TimeProvider time, OutageLog outage, ILogger<TenantQuotas> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, int> _streams = new();
    private readonly ConcurrentDictionary<Guid, ByteBudget> _streamBytes = new();
    private volatile IReadOnlyDictionary<Guid, long> _liveHolds = new Dictionary<Guid, long>();

    // Holds admitted and not yet decided, and holds placed since the count before last began and since
    // the last began: a hold is counted by one of them until a count that surely includes it
    // replaces them, so the bound never lets a burst through between counts (a hold may be counted
    // twice for one round, which only refuses early).
    private readonly ConcurrentDictionary<Guid, long> _inFlight = new();
    private volatile ConcurrentDictionary<Guid, long> _placedBefore = new();
    private volatile ConcurrentDictionary<Guid, long> _placed = new();

    public QuotaOptions Options => options;

    /// <summary>Takes a stream slot for the tenant, or null when it has all of its streams open; dispose the slot when the stream ends.</summary>
    public IDisposable? TryOpenStream(Guid tenantId)
    {
        var open = _streams.AddOrUpdate(tenantId, 1, (_, n) => n + 1);
        if (open > options.MaxStreamsPerTenant)
        {
            CloseStream(tenantId);
            return null;
        }

        return new StreamSlot(this, tenantId);
    }

    /// <summary>The tenant's open streams on this node.</summary>
    public int OpenStreams(Guid tenantId) => _streams.GetValueOrDefault(tenantId);

    /// <summary>
    /// Waits until the tenant's streams may be sent <paramref name="bytes"/> more, then counts them.
    /// Snapshots of a big event are megabytes each and go to every viewer: unbounded, a tenant's wall of
    /// viewers took every core from the other tenants. A stream that waits here is sent the latest
    /// snapshot when it is its turn, so a tenant over its share sees fewer updates, never stale ones.
    /// </summary>
    public ValueTask SpendStreamBytesAsync(Guid tenantId, int bytes, CancellationToken ct) =>
        options.StreamBytesPerSecondPerTenant <= 0
            ? ValueTask.CompletedTask
            : _streamBytes.GetOrAdd(tenantId, _ => new ByteBudget(options.StreamBytesPerSecondPerTenant)).SpendAsync(bytes, ct);

    /// <summary>
    /// Admits one new hold of the tenant, or refuses it when the last count plus the holds this node
    /// placed or admitted since reach the bound. Admission counts at once, so concurrent requests
    /// cannot all pass on the same count; the answer is reported with <see cref="Decided"/>.
    /// </summary>
    public bool TryAdmitHold(Guid tenantId)
    {
        if (options.MaxLiveHoldsPerTenant <= 0)
        {
            return true;
        }

        var inFlight = _inFlight.AddOrUpdate(tenantId, 1, (_, n) => n + 1);
        var known = _liveHolds.GetValueOrDefault(tenantId) + _placedBefore.GetValueOrDefault(tenantId) + _placed.GetValueOrDefault(tenantId);
        if (known + inFlight > options.MaxLiveHoldsPerTenant)
        {
            _inFlight.AddOrUpdate(tenantId, 0, (_, n) => n - 1);
            return false;
        }

        return true;
    }

    /// <summary>Reports how an admitted hold was decided: placed, it counts until the store's count includes it.</summary>
    public void Decided(Guid tenantId, bool placed)
    {
        if (options.MaxLiveHoldsPerTenant <= 0)
        {
            return;
        }

        if (placed)
        {
            _placed.AddOrUpdate(tenantId, 1, (_, n) => n + 1);
        }

        _inFlight.AddOrUpdate(tenantId, 0, (_, n) => n - 1);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.MaxLiveHoldsPerTenant <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.LiveHoldsRefreshMs), time);
        do
        {
            try
            {
                // Holds placed from here on may or may not be in the count: keep them apart until the next one.
                _placedBefore = _placed;
                _placed = new ConcurrentDictionary<Guid, long>();
                _liveHolds = await store.GetLiveHoldsByTenantAsync(stoppingToken);
                _placedBefore = new ConcurrentDictionary<Guid, long>();
                outage.Succeeded();
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The last count stands (holds are still decided by the engine whatever it says), and
                // the holds placed meanwhile keep counting. An outage is logged once, with summaries.
                foreach (var (tenant, placed) in _placedBefore)
                {
                    _placed.AddOrUpdate(tenant, placed, (_, n) => n + placed);
                }

                _placedBefore = new ConcurrentDictionary<Guid, long>();
                if (OutageLog.IsStoreFailure(ex))
                {
                    outage.Failed("live-hold count", ex);
                }
                else
                {
                    logger.LogWarning(ex, "Counting live holds per tenant failed; the last count stands");
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private void CloseStream(Guid tenantId)
    {
        if (_streams.AddOrUpdate(tenantId, 0, (_, n) => n - 1) <= 0)
        {
            _streams.TryRemove(new KeyValuePair<Guid, int>(tenantId, 0));
        }
    }

    private sealed class StreamSlot(TenantQuotas quotas, Guid tenantId) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                quotas.CloseStream(tenantId);
            }
        }
    }
}

/// <summary>
/// A token bucket of bytes that may go into debt: one item larger than a second's worth is still sent,
/// and whoever comes next waits until the debt is paid. At most a second's worth builds up while idle.
/// Spenders are served in the order they arrive: each takes its bytes at once and waits only for the
/// debt before it. (Waiting and then trying again let waiters wake together and the first take the
/// share every time, so one of a tenant's viewers could be sent every snapshot while the others waited.)
/// </summary>
internal sealed class ByteBudget(long bytesPerSecond, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private double _available = bytesPerSecond;
    private long _refilled = (time ?? TimeProvider.System).GetTimestamp();

    /// <summary>Takes <paramref name="bytes"/> now and answers how long the caller must wait before it sends them.</summary>
    public TimeSpan Take(int bytes)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _available = Math.Min(bytesPerSecond, _available + (_time.GetElapsedTime(_refilled, now).TotalSeconds * bytesPerSecond));
            _refilled = now;
            var before = _available;
            _available -= bytes;
            return before > 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-before / bytesPerSecond);
        }
    }

    public async ValueTask SpendAsync(int bytes, CancellationToken ct)
    {
        var wait = Take(bytes);
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(wait, _time, ct);
        }
        catch (OperationCanceledException)
        {
            // Never sent: the bytes go back, so a viewer that leaves does not slow the ones after it.
            lock (_lock)
            {
                _available += bytes;
            }

            throw;
        }
    }
}

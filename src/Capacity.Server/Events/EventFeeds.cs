using System.Diagnostics;
using System.Text.Json.Serialization.Metadata;
using Capacity.Engine;
using Capacity.Server.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Capacity.Server.Events;

/// <summary>
/// One poller per watched event, shared by every stream watching it. Each stream polling on its own
/// made the store's work grow with the audience: a busy event on a wall of dashboards read its
/// capacities and counted its live holds four times a second per viewer. Now it is four times a
/// second per event while anyone watches, and nothing once the last viewer has gone.
/// </summary>
internal sealed class EventFeeds(IReadStore store, IOptions<JsonOptions> json, TimeProvider time) : IDisposable
{
    /// <summary>The clock a snapshot's capacity states are read at: a state that changes by the clock changes the snapshot.</summary>
    internal TimeProvider Time => time;

    /// <summary>How a snapshot is written: the generated contract's own, as every viewer is sent it.</summary>
    internal JsonTypeInfo<EventStreamSnapshot> Json { get; } = JsonContract.For<EventStreamSnapshot>(json.Value.SerializerOptions);

    /// <summary>How often a feed looks for changes: a dashboard must follow within a second.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<(Guid Tenant, string EventId), Feed> _feeds = [];
    private IReadStore Store => store;
    private readonly Lock _lock = new();
    private int _polling;
    private bool _closed;

    /// <summary>Feeds with a poller running: one per watched event.</summary>
    public int Active
    {
        get
        {
            lock (_lock)
            {
                return _feeds.Count;
            }
        }
    }

    /// <summary>
    /// Pollers still running. A poller ends shortly after its feed stops: a poll already under way when
    /// the last viewer leaves finishes its read first, so this can trail <see cref="Active"/> by one poll.
    /// </summary>
    internal int Polling => Volatile.Read(ref _polling);

    /// <summary>Starts watching; dispose the result to stop. The first viewer of an event starts its poller.</summary>
    public Feed Join(Guid tenantId, string eventId)
    {
        lock (_lock)
        {
            // Shutting down: a viewer arriving now gets its first snapshot and an end, not a poller
            // that nothing would stop.
            if (_closed)
            {
                var stopped = new Feed(this, tenantId, eventId) { Viewers = 1 };
                stopped.Stop();
                return stopped;
            }

            if (!_feeds.TryGetValue((tenantId, eventId), out var feed))
            {
                feed = new Feed(this, tenantId, eventId);
                _feeds.Add((tenantId, eventId), feed);
                feed.Start();
            }

            feed.Viewers++;
            return feed;
        }
    }

    private void Leave(Feed feed)
    {
        lock (_lock)
        {
            if (--feed.Viewers > 0)
            {
                return;
            }

            // Only this feed: one stopped at shutdown is no longer in the map.
            if (_feeds.TryGetValue((feed.TenantId, feed.EventId), out var current) && current == feed)
            {
                _feeds.Remove((feed.TenantId, feed.EventId));
            }
        }

        feed.Stop();
    }

    public void Dispose()
    {
        Feed[] all;
        lock (_lock)
        {
            _closed = true;
            all = [.. _feeds.Values];
            _feeds.Clear();
        }

        foreach (var feed in all)
        {
            feed.Stop();
        }
    }

    /// <summary>
    /// The latest snapshot of one event, and a signal when it changes. Viewers share the instance;
    /// each must call <see cref="Leave"/> once (see <see cref="EventFeeds.Join"/>). Reads of the store
    /// go one at a time, and a viewer arriving while one is under way shares the next: 500 viewers
    /// connecting at once to a 10,000-capacity event read it twice, not 500 times (each read held its own
    /// megabytes: the working set grew to 11 GB).
    /// </summary>
    public sealed class Feed
    {
        private readonly EventFeeds _owner;
        private readonly CancellationTokenSource _stop = new();
        private readonly SemaphoreSlim _reads = new(1, 1);
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Snapshot? _latest;

        // When the last read that succeeded began (Stopwatch ticks); guarded by _reads.
        private long _lastReadStarted = long.MinValue;

        internal Feed(EventFeeds owner, Guid tenantId, string eventId)
        {
            _owner = owner;
            TenantId = tenantId;
            EventId = eventId;
        }

        public Guid TenantId { get; }
        public string EventId { get; }

        /// <summary>Guarded by the owner's lock.</summary>
        internal int Viewers { get; set; }

        /// <summary>The last snapshot read, or null before the first read.</summary>
        public Snapshot? Latest => Volatile.Read(ref _latest);

        /// <summary>Completes at the next change. Take it before reading <see cref="Latest"/>, so no change falls between the two.</summary>
        public Task Changed => Volatile.Read(ref _changed).Task;

        /// <summary>True once the feed has stopped (its last viewer left, or the server is shutting down).</summary>
        public bool Stopped => _stop.IsCancellationRequested;

        public void Leave() => _owner.Leave(this);

        /// <summary>
        /// The event as read by a read that began at or after <paramref name="since"/> (a
        /// <see cref="Stopwatch.GetTimestamp"/>): a viewer's first snapshot is never older than its
        /// request, yet viewers arriving together share one read. Throws what the store throws.
        /// </summary>
        public async Task<Snapshot> ReadSinceAsync(long since, CancellationToken ct)
        {
            await _reads.WaitAsync(ct);
            try
            {
                if (_lastReadStarted >= since && _latest is { } shared)
                {
                    return shared;
                }

                var started = Stopwatch.GetTimestamp();
                var utf8 = await EventApi.SnapshotUtf8Async(_owner.Store, _owner.Json, _owner.Time.GetUtcNow(), TenantId, EventId, ct);
                _lastReadStarted = started;
                var latest = _latest;
                if (latest is not null && latest.Utf8.AsSpan().SequenceEqual(utf8))
                {
                    return latest;
                }

                var next = new Snapshot(utf8, (latest?.Version ?? 0) + 1);
                Volatile.Write(ref _latest, next);
                var fired = Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                fired.TrySetResult();
                return next;
            }
            finally
            {
                _reads.Release();
            }
        }

        internal void Start()
        {
            Interlocked.Increment(ref _owner._polling);

            // Started by the first viewer's request, but no part of it: without the request's execution
            // context, the loop's log lines do not carry that request's scope and its reads are not
            // traced as children of that request's span for as long as the feed lives.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(PollAsync);
            }
        }

        // Idempotent: the last viewer and shutdown may both stop a feed.
        internal void Stop()
        {
            _stop.Cancel();
            // Viewers still waiting (only at shutdown) wake up and find their own cancellation.
            Volatile.Read(ref _changed).TrySetResult();
        }

        private async Task PollAsync()
        {
            try
            {
                await PollUntilStoppedAsync();
            }
            finally
            {
                Interlocked.Decrement(ref _owner._polling);
            }
        }

        private async Task PollUntilStoppedAsync()
        {
            var ct = _stop.Token;
            while (!ct.IsCancellationRequested)
            {
                var size = 0;
                try
                {
                    size = (await ReadSinceAsync(Stopwatch.GetTimestamp(), ct)).Utf8.Length;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception)
                {
                    // The store is unavailable: keep polling; viewers see no update until it is back.
                }

                if (!await DelayAsync(NextPollAfter(size), ct))
                {
                    break;
                }
            }
        }

        private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken ct)
        {
            await Task.Delay(delay, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return !ct.IsCancellationRequested;
        }
    }

    /// <summary>
    /// The wait before the next poll of a feed: <see cref="PollInterval"/>, or longer for a big event,
    /// at <see cref="PollBytesPerSecond"/> of its snapshot, so one watched event's polling costs at
    /// most about a fifth of a core however big it is (a 10,000-capacity event is a 3.7 MB snapshot and
    /// about a tenth of a second of a core to read and write: it is polled every 0.46 s). Size, not the
    /// time a read took, since a read that waited on a lock or a slow disk cost no CPU.
    /// </summary>
    internal static TimeSpan NextPollAfter(int snapshotBytes)
    {
        var bySize = TimeSpan.FromSeconds((double)snapshotBytes / PollBytesPerSecond);
        return bySize > PollInterval ? bySize : PollInterval;
    }

    /// <summary>Snapshot bytes per second a feed may read: below 2 MB a snapshot is read every <see cref="PollInterval"/>.</summary>
    internal const int PollBytesPerSecond = 8 << 20;
}

/// <param name="Utf8">The snapshot as the stream sends it, written once for every viewer.</param>
/// <param name="Version">1 for the feed's first snapshot, one more for each that differs from the one before.</param>
internal sealed record Snapshot(byte[] Utf8, long Version);

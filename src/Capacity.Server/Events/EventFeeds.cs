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
    /// each must call <see cref="Leave"/> once (see <see cref="EventFeeds.Join"/>).
    /// </summary>
    public sealed class Feed
    {
        private readonly EventFeeds _owner;
        private readonly CancellationTokenSource _stop = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Snapshot? _latest;

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

        /// <summary>The last snapshot the poller read, or null before its first read.</summary>
        public Snapshot? Latest => Volatile.Read(ref _latest);

        /// <summary>Completes at the next change. Take it before reading <see cref="Latest"/>, so no change falls between the two.</summary>
        public Task Changed => Volatile.Read(ref _changed).Task;

        /// <summary>True once the feed has stopped (its last viewer left, or the server is shutting down).</summary>
        public bool Stopped => _stop.IsCancellationRequested;

        public void Leave() => _owner.Leave(this);

        internal void Start()
        {
            Interlocked.Increment(ref _owner._polling);
            _ = Task.Run(PollAsync);
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
            using var timer = new PeriodicTimer(PollInterval);
            var ct = _stop.Token;
            do
            {
                var started = Stopwatch.GetTimestamp();
                string current;
                try
                {
                    current = await EventApi.SnapshotJsonAsync(_owner.Store, _owner.Json, _owner.Time.GetUtcNow(), TenantId, EventId, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception)
                {
                    // The store is unavailable: keep polling; viewers see no update until it is back.
                    continue;
                }

                if (current != _latest?.Json)
                {
                    Volatile.Write(ref _latest, new Snapshot(current, started));
                    var fired = Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                    fired.TrySetResult();
                }
            }
            while (await WaitAsync(timer, ct));
        }

        private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
        {
            try
            {
                return await timer.WaitForNextTickAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }
}

/// <param name="Json">The snapshot as the stream sends it.</param>
/// <param name="ReadStarted">When its read began (<see cref="Stopwatch.GetTimestamp"/>): a viewer that read its own first snapshot later must not be sent this one after it.</param>
internal sealed record Snapshot(string Json, long ReadStarted);

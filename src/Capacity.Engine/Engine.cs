using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Capacity.Core;
using Microsoft.Extensions.Logging;

namespace Capacity.Engine;

/// <summary>
/// The write path. Callers submit commands; one writer drains whatever is queued (up to a batch
/// limit) and applies it in one store transaction: load the touched rows, let the core decide each
/// command in arrival order, write, commit once, and only then answer. There is no timer: at low
/// load a batch is one command, under load batches grow by themselves, and the cost of the durable
/// commit is shared by everything in it. Maintenance that deletes (the idempotency purge) is queued
/// to the same writer and runs in a transaction of its own, so every write goes through it.
/// </summary>
public sealed class CommandEngine : IAsyncDisposable
{
    public static readonly Meter Meter = new("Capacity.Engine");

    /// <summary>
    /// Spans of the write path: one per batch (<c>capacity.engine.batch</c>, linked to the requests in
    /// it) and one per command under its request's span (<c>capacity.engine.command</c>, from enqueue to
    /// answer, linked to its batch). Nothing is captured unless a tracer listens to this source.
    /// </summary>
    public static readonly ActivitySource Tracing = new("Capacity.Engine");
    private static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("capacity.engine.batch_size", description: "Commands per committed batch");
    private static readonly Histogram<double> CommitLatency = Meter.CreateHistogram<double>("capacity.engine.commit_duration", "ms", "Time from opening a batch transaction to its durable commit");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("capacity.engine.failed_batches", description: "Batches whose transaction failed");
    private static readonly Counter<long> Conflicts = Meter.CreateCounter<long>("capacity.engine.lock_conflicts", description: "Tries of a batch that the database failed to break a lock cycle with another node's batch, each tried again");
    private static readonly Counter<long> Added = Meter.CreateCounter<long>("capacity.engine.added_commands", description: "Commands added to a batch after its rows were loaded: queued while it loaded (or waited for another node's locks), on rows it had loaded already");
    private static readonly Counter<long> Folded = Meter.CreateCounter<long>("capacity.engine.usage_log_folded", description: "Entries of the buyers' usage log added into their rows while the writer was idle");
    private static readonly Counter<long> Commands = Meter.CreateCounter<long>("capacity.engine.commands", description: "Commands decided, by command and outcome (holds by outcome: command=\"hold\")");
    private static readonly string[] OutcomeNames = [.. Enum.GetNames<OutcomeCode>().Select(n => n.ToLowerInvariant())];

    /// <summary>Tries of one batch when the database fails it to break a lock cycle (<see cref="IWriteStore.IsLockConflict"/>).</summary>
    public const int MaxAttempts = 3;

    private readonly IWriteStore _store;
    private readonly TimeProvider _time;
    private readonly CoreLimits _limits;
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly OutageLog? _outage;
    private readonly EarlyRefusal? _earlyRefusal;
    private readonly Channel<WorkItem> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _writer;
    private int _queued;

    // Reused across batches by the single writer.
    private readonly WorkingSet _ws = new();
    private readonly LoadKeys _keys = new();
    private readonly List<Submission> _batch = [];
    private readonly HashSet<IdempotencyKey> _idempotencyKeys = [];
    private readonly LoadKeys _candidate = new();
    private readonly HashSet<IdempotencyKey> _addedIdempotencyKeys = [];
    private readonly HashSet<Guid> _addedIds = [];
    private readonly HashSet<(Guid CapacityId, string BuyerKey)> _addedBuyers = [];
    private readonly Dictionary<IdempotencyKey, IdempotencyRecord> _records = [];
    private readonly HashSet<IdempotencyKey> _busy = [];
    private readonly List<IdempotencyRecord> _newRecords = [];
    private readonly List<Chore> _chores = [];

    public CommandEngine(IWriteStore store, TimeProvider time, CoreLimits limits, EngineOptions options, ILogger<CommandEngine> logger, OutageLog? outage = null)
    {
        _outage = outage;
        _store = store;
        _time = time;
        _limits = limits;
        _options = options;
        _logger = logger;
        _earlyRefusal = options.EarlyRefusals && store is ICommittedRows rows ? new EarlyRefusal(rows, time, limits) : null;
        _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
        Meter.CreateObservableGauge("capacity.engine.queue_depth", () => Volatile.Read(ref _queued), description: "Commands waiting for the writer");
        // The writer has a thread of its own, so that its priority can be raised (WriterPriority) and
        // its waits for work and for the disk never hold a thread-pool worker. The engine may be built
        // inside the first request that needs it; its writer serves every request after, so it does
        // not keep that one's execution context (its log scope, its trace span).
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _writer = stopped.Task;
        var thread = new Thread(() =>
        {
            try
            {
                Run();
                stopped.SetResult();
            }
            catch (Exception ex)
            {
                stopped.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "capacity-writer",
        };
        using (ExecutionContext.SuppressFlow())
        {
            thread.Start();
        }
    }

    /// <summary>
    /// Submits a command and waits for its durable answer. <paramref name="render"/> turns the outcome
    /// into the HTTP answer that is stored with the idempotency key, inside the same transaction.
    /// </summary>
    public Task<EngineResult> SubmitAsync(Command command, IdempotencyRequest? idempotency = null, Func<Outcome, StoredResponse>? render = null)
    {
        if (idempotency is not null && render is null)
        {
            throw new ArgumentException("An idempotent submission needs a renderer for its stored response.", nameof(render));
        }

        if (idempotency is null && command is PlaceHold hold && _earlyRefusal?.Refuse(hold) is { } refusal)
        {
            Commands.Add(1, new("command", "hold"), new("outcome", OutcomeNames[(int)refusal.Code]));
            return Task.FromResult(new EngineResult(EngineStatus.Decided, refusal));
        }

        // The bound is a counter rather than a bounded channel so that a full queue refuses at once
        // instead of making callers wait: under an on-sale stampede a fast 503 beats a slow timeout.
        if (Interlocked.Increment(ref _queued) > _options.QueueLimit)
        {
            Interlocked.Decrement(ref _queued);
            return Task.FromResult(new EngineResult(EngineStatus.Overloaded));
        }

        var submission = new Submission(command, idempotency, render);
        if (Tracing.HasListeners())
        {
            submission.Trace(Activity.Current);
        }

        if (!_queue.Writer.TryWrite(submission))
        {
            Interlocked.Decrement(ref _queued);
            return Task.FromResult(new EngineResult(EngineStatus.Unavailable));
        }

        return submission.Completion.Task;
    }

    /// <summary>
    /// Deletes the idempotency records created before <paramref name="before"/>, in a write
    /// transaction of the writer's own between batches. Returns how many it deleted; a store failure
    /// comes back as its exception, and a stopping engine as <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task<int> PurgeIdempotencyAsync(DateTimeOffset before, CancellationToken ct) =>
        QueueChore(new Chore((tx, token) => tx.PurgeIdempotencyAsync(before, token), whenIdle: false), ct);

    /// <summary>
    /// Adds up to <paramref name="max"/> entries of the buyers' usage log into their rows
    /// (<see cref="IWriteTransaction.FoldUsageLogAsync"/>), in a write transaction of the writer's own,
    /// and only if no command is waiting when the writer comes to it: the log exists so that keyed
    /// holds do not pay for their buyers' rows while the writer is busy, and this pays for them when it
    /// is not. Returns how many entries it folded: 0 when the log is empty, when commands were waiting,
    /// or when the store could not take the capacity's lock without waiting.
    /// </summary>
    public Task<int> FoldUsageLogAsync(int max, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return Count(QueueChore(new Chore((tx, token) => tx.FoldUsageLogAsync(max, token), whenIdle: true), ct));

        static async Task<int> Count(Task<int> folding)
        {
            var folded = await folding.ConfigureAwait(false);
            Folded.Add(folded);
            return folded;
        }
    }

    private Task<int> QueueChore(Chore chore, CancellationToken ct)
    {
        if (!_queue.Writer.TryWrite(chore))
        {
            return Task.FromCanceled<int>(new CancellationToken(canceled: true));
        }

        return chore.Completion.Task.WaitAsync(ct);
    }

    /// <summary>
    /// The writer's loop, on its own thread. It waits for work by blocking that thread, and waits on a
    /// batch the same way: on SQLite the store's calls complete at once, so the whole batch runs on
    /// this thread at its priority; on PostgreSQL a batch continues on the thread pool after its
    /// first round trip, as an asynchronous writer would, and this thread waits for its end.
    /// </summary>
    private void Run()
    {
        if (_options.WriterNice != 0)
        {
            if (WriterPriority.TrySetCurrentThread(_options.WriterNice) is { } refusal)
            {
                _logger.LogInformation(
                    "The writer thread runs at the process's priority: raising it to nice {Nice} was refused ({Reason}). Grant CAP_SYS_NICE, or set Capacity:Engine:WriterNice to 0 to not try",
                    _options.WriterNice,
                    refusal);
            }
            else
            {
                _logger.LogDebug("The writer thread runs at nice {Nice}", _options.WriterNice);
            }
        }

        var reader = _queue.Reader;
        var max = _options.Batching ? _options.MaxBatch : 1;
        try
        {
            while (WaitForWork(reader))
            {
                _batch.Clear();
                while (_batch.Count < max && reader.TryRead(out var item))
                {
                    if (item is Submission s)
                    {
                        _batch.Add(s);
                    }
                    else
                    {
                        _chores.Add((Chore)item);
                    }
                }

                Interlocked.Add(ref _queued, -_batch.Count);
                if (_batch.Count > 0)
                {
                    ProcessAsync(_batch).GetAwaiter().GetResult();
                }

                foreach (var chore in _chores)
                {
                    RunChoreAsync(chore).GetAwaiter().GetResult();
                }

                _chores.Clear();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }

        var leftover = new List<Submission>();
        while (reader.TryRead(out var left))
        {
            if (left is Submission s)
            {
                s.Result = new EngineResult(EngineStatus.Unavailable);
                leftover.Add(s);
            }
            else
            {
                ((Chore)left).Completion.TrySetCanceled();
            }
        }

        foreach (var chore in _chores)
        {
            chore.Completion.TrySetCanceled();
        }

        Complete(leftover);
    }

    private bool WaitForWork(ChannelReader<WorkItem> reader)
    {
        var wait = reader.WaitToReadAsync(_stopping.Token);
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private async Task ProcessAsync(List<Submission> batch)
    {
        var started = Stopwatch.GetTimestamp();
        using var span = Tracing.HasListeners() ? StartBatchSpan(batch) : null;

        _keys.Clear();
        _idempotencyKeys.Clear();
        foreach (var s in batch)
        {
            s.Command.CollectKeys(_keys);
            if (s.Idempotency is { } idem)
            {
                _idempotencyKeys.Add(new IdempotencyKey(idem.TenantId, idem.Key));
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await AttemptAsync(batch).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (attempt < MaxAttempts && ex is not OperationCanceledException && _store.IsLockConflict(ex))
            {
                // The database broke a lock cycle between this batch and another node's by failing this
                // one: nothing of it applied, and the other batch has its locks now. Deciding the batch again
                // in a new transaction, on what is committed then, answers its callers instead of a 503.
                Conflicts.Add(1);
                _logger.LogInformation("Batch of {Count} commands met a lock conflict on the database ({Reason}); trying it again", batch.Count, ex.Message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                Failures.Add(1);
                if (_outage is not null && OutageLog.IsStoreFailure(ex))
                {
                    // An outage fails every batch: one warning and periodic summaries, not a trace per batch.
                    _outage.Failed("batch", ex);
                }
                else
                {
                    _logger.LogError(ex, "Batch of {Count} commands failed; none was applied", batch.Count);
                }

                foreach (var s in batch)
                {
                    s.Result = new EngineResult(EngineStatus.Unavailable);
                }

                if (span is not null)
                {
                    span.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                    EndCommandSpans(batch, span);
                }

                Complete([.. batch]);
                return;
            }
            catch (OperationCanceledException)
            {
                // Stopping in the middle of a batch: its transaction rolls back, and its callers hear that
                // nothing was applied rather than wait for an answer that would never come (a service that
                // submits while the host stops, such as KeyUseFlush, would otherwise hold the stop up).
                foreach (var s in batch)
                {
                    s.Result = new EngineResult(EngineStatus.Unavailable);
                }

                Complete([.. batch]);
                throw;
            }
        }

        _outage?.Succeeded();
        if (_ws.Notices.Count > 0 || _ws.ChangedDeliveries.Count > 0)
        {
            OutboxChanged?.Invoke();
        }

        BatchSize.Record(batch.Count);
        span?.SetTag("capacity.batch.size", batch.Count);
        CommitLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        foreach (var s in batch)
        {
            if (s.Result.Outcome is { } outcome)
            {
                Commands.Add(1, new("command", NameOf(s.Command)), new("outcome", OutcomeNames[(int)outcome.Code]));
            }
        }

        if (span is not null)
        {
            EndCommandSpans(batch, span);
        }

        // A copy of the list of submissions, which the writer reuses for the next batch. The answers
        // stay in the submissions: an answer is a struct of a few hundred bytes, and an array of a
        // batch's answers would be a large-object allocation per batch, which the GC pays for with
        // full collections (it did: measured by EngineBench, and LargeObjectTests now fails on it;
        // see docs/performance.md).
        Complete([.. batch]);
    }

    /// <summary>
    /// One try at the batch: loads what its commands name in a new transaction, decides each command in
    /// order on that working set, writes and commits. Everything it fills is cleared first, so a try
    /// that failed leaves nothing behind for the next.
    /// </summary>
    private async Task AttemptAsync(List<Submission> batch)
    {
        _records.Clear();
        _busy.Clear();
        _newRecords.Clear();
        _ws.Clear();

        await using var tx = await _store.BeginWriteAsync(_stopping.Token).ConfigureAwait(false);

        // Keys before rows: a store shared by nodes only tries its key locks, so they need no place
        // in the row lock order, and its round trip then comes before any row is locked.
        if (_idempotencyKeys.Count > 0)
        {
            await tx.LoadIdempotencyAsync(_idempotencyKeys, _records, _busy, _stopping.Token).ConfigureAwait(false);
        }

        await tx.LoadAsync(_keys, _ws, _stopping.Token).ConfigureAwait(false);
        if (_queue.Reader.TryPeek(out _))
        {
            await AddQueuedAsync(batch, tx).ConfigureAwait(false);
        }

        // Taken once the rows are loaded, so that on a store shared by nodes a batch that waited for
        // another's locks decides after what that one committed, and every command added while it
        // waited is decided no earlier than it was sent. Millisecond precision: that is what the
        // stores keep, so a decision never depends on precision that a reload would lose.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Result = Decide(batch[i], now);

            // Tiers a sell-out opens, and offers for freed units, before the next command can see them.
            if (_ws.HasSellOutCandidates || _ws.HasUnsettled || _ws.HasWatchers)
            {
                Decider.AfterCommand(_ws, now);
            }
        }

        // Debug builds check what is about to be written (bounds, ledger = counter movement); Release compiles it away.
        _ws.AssertBatchConsistent();
        if (_ws.Notices.Count > 0)
        {
            RenderNotices();
        }

        await tx.WriteAsync(_ws, _newRecords, _stopping.Token).ConfigureAwait(false);
        await tx.CommitAsync(_stopping.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds to the batch the commands queued while it loaded whose rows it has loaded already
    /// (<see cref="LoadKeys.Covers"/>), in queue order, stopping at the first that is not. On
    /// PostgreSQL a batch on a hot pool shared by nodes spends its load waiting for the other node's
    /// batch to release the pool's row lock; without this, what its callers sent meanwhile would wait
    /// for one more turn at the lock, and two nodes would commit about as many batches as one, each
    /// half as full. Such commands lock nothing new: only their idempotency keys (tried, never waited
    /// for), the ids they create and their buyers' usage are looked up, in one round trip (<see cref="IWriteTransaction.LoadAddedAsync"/>).
    /// Their keys join the batch's, so a try decided again after a lock conflict loads them too.
    /// </summary>
    private async Task AddQueuedAsync(List<Submission> batch, IWriteTransaction tx)
    {
        var max = _options.Batching ? _options.MaxBatch : 1;
        var before = batch.Count;
        _addedIdempotencyKeys.Clear();
        _addedIds.Clear();
        _addedBuyers.Clear();
        var reader = _queue.Reader;
        while (batch.Count < max && reader.TryPeek(out var item) && item is Submission s && IsLoaded(s))
        {
            reader.TryRead(out _);
            batch.Add(s);
            foreach (var id in _candidate.NewReservations)
            {
                if (_keys.NewReservations.Add(id) && !_ws.HasReservation(id))
                {
                    _addedIds.Add(id);
                }
            }

            foreach (var buyer in _candidate.Buyers)
            {
                if (_keys.Buyers.Add(buyer))
                {
                    _addedBuyers.Add(buyer);
                }
            }

            if (s.Idempotency is { } idem && new IdempotencyKey(idem.TenantId, idem.Key) is var key && _idempotencyKeys.Add(key))
            {
                _addedIdempotencyKeys.Add(key);
            }
        }

        var added = batch.Count - before;
        if (added == 0)
        {
            return;
        }

        Interlocked.Add(ref _queued, -added);
        Added.Add(added);
        if (_addedIdempotencyKeys.Count + _addedIds.Count + _addedBuyers.Count > 0)
        {
            var usage = _addedBuyers.Count > 0 ? LoadKeys.UsageKeys(_ws, _addedBuyers, _keys.CreatesLimits) : [];
            await tx.LoadAddedAsync(_addedIdempotencyKeys, _records, _busy, _addedIds, usage, _ws, _stopping.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Whether the batch has loaded every row the submission's command names, but the ids it creates and its buyers' usage; leaves its keys in <see cref="_candidate"/>.</summary>
    private bool IsLoaded(Submission s)
    {
        _candidate.Clear();
        s.Command.CollectKeys(_candidate);
        return _keys.Covers(_candidate);
    }

    /// <summary>Raised after a batch that wrote deliveries or changed one commits: the dispatcher's cue, so that it need not poll fast.</summary>
    public event Action? OutboxChanged;

    /// <summary>
    /// Renders a notice's subject as the API shows it (the webhook payload's <c>data</c>). The server
    /// sets it; without it the data is the subject's bare id, enough for the engine's own tests.
    /// </summary>
    public Func<Notice, byte[]>? RenderNotice { get; set; }

    private void RenderNotices()
    {
        var render = RenderNotice ?? DefaultRender;
        foreach (var notice in _ws.Notices)
        {
            notice.MessageId = Guid.CreateVersion7(notice.At);
            notice.Data = render(notice);
        }
    }

    private static byte[] DefaultRender(Notice notice) => System.Text.Encoding.UTF8.GetBytes(notice.Subject switch
    {
        CapacityView c => $"{{\"id\":\"{c.Id}\"}}",
        Reservation r => $"{{\"id\":\"{r.Id}\"}}",
        AllocationView a => $"{{\"id\":\"{a.Id}\"}}",
        WaitlistEntryView e => $"{{\"id\":\"{e.Id}\"}}",
        _ => "{}",
    });

    private async Task RunChoreAsync(Chore chore)
    {
        // Commands queued since this iteration's batch was taken go first: a chore that runs only when
        // the writer is idle does nothing this time.
        if (chore.WhenIdle && Volatile.Read(ref _queued) > 0)
        {
            chore.Completion.TrySetResult(0);
            return;
        }

        try
        {
            await using var tx = await _store.BeginWriteAsync(_stopping.Token).ConfigureAwait(false);
            var done = await chore.Work(tx, _stopping.Token).ConfigureAwait(false);
            await tx.CommitAsync(_stopping.Token).ConfigureAwait(false);
            chore.Completion.TrySetResult(done);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            chore.Completion.TrySetCanceled();
        }
        catch (Exception ex)
        {
            chore.Completion.TrySetException(ex);
        }
    }

    /// <summary>
    /// Hands the answers to the callers, off the writer thread (a caller's continuation must never
    /// delay the next batch) and in one work item per core rather than one per caller: each work item
    /// completes its share in turn, running the callers' continuations (rendering and sending the
    /// HTTP answer) inline. A batch of 500 then costs two thread-pool dispatches instead of 500, and
    /// far fewer thread wake-ups and context switches.
    /// </summary>
    /// <summary>The batch's span, linked to the span of each request in it that was traced.</summary>
    private static Activity? StartBatchSpan(List<Submission> batch)
    {
        var links = new List<ActivityLink>();
        foreach (var s in batch)
        {
            if (s.Parent.TraceId != default)
            {
                links.Add(new ActivityLink(s.Parent));
            }
        }

        var span = Tracing.StartActivity("capacity.engine.batch", ActivityKind.Internal, parentContext: default, links: links);
        span?.SetTag("capacity.batch.size", batch.Count);
        return span;
    }

    /// <summary>
    /// Each traced command's span under its request's: from when it was queued to its answer, with its
    /// outcome, linked to the batch that decided it (a batch serves many requests, so it is a link, not a parent).
    /// </summary>
    private static void EndCommandSpans(List<Submission> batch, Activity batchSpan)
    {
        ActivityLink[] toBatch = [new ActivityLink(batchSpan.Context)];
        foreach (var s in batch)
        {
            if (s.Parent.TraceId == default)
            {
                continue;
            }

            using var span = Tracing.StartActivity("capacity.engine.command", ActivityKind.Internal, s.Parent, links: toBatch, startTime: s.QueuedAt);
            if (span is null)
            {
                continue;
            }

            span.SetTag("capacity.command", NameOf(s.Command));
            span.SetTag("capacity.engine.status", s.Result.Status.ToString());
            if (s.Result.Outcome is { } outcome)
            {
                span.SetTag("capacity.outcome", OutcomeNames[(int)outcome.Code]);
            }

            if (s.Result.Status == EngineStatus.Unavailable)
            {
                span.SetStatus(ActivityStatusCode.Error, s.Result.Status.ToString());
            }
        }
    }

    private static void Complete(List<Submission> answers)
    {
        if (answers.Count == 0)
        {
            return;
        }

        var parts = Math.Min(Environment.ProcessorCount, answers.Count);
        var size = (answers.Count + parts - 1) / parts;
        for (var start = 0; start < answers.Count; start += size)
        {
            var part = answers.GetRange(start, Math.Min(size, answers.Count - start));
            ThreadPool.UnsafeQueueUserWorkItem(
                static part =>
                {
                    foreach (var submission in part)
                    {
                        submission.Completion.TrySetResult(submission.Result);
                    }
                },
                part,
                preferLocal: false);
        }
    }

    private static string NameOf(Command command) => command switch
    {
        PlaceHold => "hold",
        TransitionReservation { Transition: Transition.Confirm } => "confirm",
        TransitionReservation { Transition: Transition.Release } => "release",
        TransitionReservation => "cancel",
        ExtendReservation => "extend",
        ChangeHold => "change",
        ConfirmHold => "confirm_part",
        CancelSale => "cancel_part",
        ExpireDue => "expire",
        CreateCapacity => "create_capacity",
        UpdateCapacity => "update_capacity",
        CreatePrice => "create_price",
        UpdatePrice => "update_price",
        CreateTenant => "create_tenant",
        AddApiKey => "add_api_key",
        RecordDeliveryAttempt => "record_delivery",
        RevokeApiKey => "revoke_api_key",
        SetTenantDisabled { Disabled: true } => "disable_tenant",
        SetTenantDisabled => "enable_tenant",
        RecordKeyUse => "record_key_use",
        _ => "other",
    };

    private EngineResult Decide(Submission s, DateTimeOffset now)
    {
        if (s.Idempotency is not { } idem)
        {
            return new EngineResult(EngineStatus.Decided, Decider.Decide(_ws, s.Command, now, _limits));
        }

        // A key seen before, in an earlier batch or earlier in this one, replays its first answer:
        // that is what makes fifty concurrent copies of one request take effect once.
        var key = new IdempotencyKey(idem.TenantId, idem.Key);
        if (_busy.Contains(key))
        {
            return new EngineResult(EngineStatus.InProgress);
        }

        if (_records.TryGetValue(key, out var record))
        {
            return record.IsFor(idem)
                ? new EngineResult(EngineStatus.Replayed, Response: record.Response)
                : new EngineResult(EngineStatus.KeyReused);
        }

        var outcome = Decider.Decide(_ws, s.Command, now, _limits);
        var response = s.Render!(outcome);
        if (response.Status < 500)
        {
            record = new IdempotencyRecord(idem.TenantId, idem.Key, idem.Method, idem.Path, idem.RequestHash, response.Status, response.Body, response.Location, now);
            _records[key] = record;
            _newRecords.Add(record);
        }

        return new EngineResult(EngineStatus.Decided, outcome, response);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>What the writer drains: commands (<see cref="Submission"/>) and, rarely, maintenance (<see cref="Chore"/>).</summary>
    private abstract class WorkItem;

    private sealed class Submission(Command command, IdempotencyRequest? idempotency, Func<Outcome, StoredResponse>? render) : WorkItem
    {
        public Command Command { get; } = command;
        public IdempotencyRequest? Idempotency { get; } = idempotency;
        public Func<Outcome, StoredResponse>? Render { get; } = render;

        // Completed only from thread-pool work items (Complete), never on the writer thread, so its
        // continuations may run inline.
        public TaskCompletionSource<EngineResult> Completion { get; } = new();

        /// <summary>The answer, set by the writer once the batch is decided (or has failed) and handed over by Complete.</summary>
        public EngineResult Result;

        /// <summary>The span of the request that submitted it, when tracing is on; default otherwise.</summary>
        public ActivityContext Parent;

        /// <summary>When it was queued, for its command span; set only when tracing is on.</summary>
        public DateTimeOffset QueuedAt;

        public void Trace(Activity? caller)
        {
            if (caller is not null)
            {
                (Parent, QueuedAt) = (caller.Context, DateTimeOffset.UtcNow);
            }
        }
    }

    /// <summary>
    /// Maintenance the writer runs in a transaction of its own after the batch it was drained with;
    /// <see cref="Work"/> returns how many rows it dealt with. <see cref="WhenIdle"/>: only if no
    /// command is waiting by then (otherwise it answers 0 without a transaction).
    /// </summary>
    private sealed class Chore(Func<IWriteTransaction, CancellationToken, Task<int>> work, bool whenIdle) : WorkItem
    {
        public Func<IWriteTransaction, CancellationToken, Task<int>> Work { get; } = work;

        public bool WhenIdle { get; } = whenIdle;

        // Completed on the writer thread, so its caller's continuation must not run there.
        public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

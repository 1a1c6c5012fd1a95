using System.Diagnostics.Tracing;
using Capacity.Core;
using Capacity.Testing;

namespace Capacity.Engine.Tests;

/// <summary>
/// The runtime's allocation events are process-wide, so these tests run alone: another test's large
/// objects (a page of ledger rows, a working set growing for an expiry sweep) would otherwise be
/// counted as the engine's.
/// </summary>
[CollectionDefinition(nameof(LargeObjectTests), DisableParallelization = true)]
public sealed class LargeObjectTestsCollection;

[Collection(nameof(LargeObjectTests))]
public sealed class LargeObjectTests_on_sqlite() : LargeObjectTests(StoreKind.Sqlite);

[Collection(nameof(LargeObjectTests))]
public sealed class LargeObjectTests_on_postgres() : LargeObjectTests(StoreKind.Postgres);

public abstract class LargeObjectTests(StoreKind kind)
{
    /// <summary>
    /// An answer is a struct of a few hundred bytes, so any per-batch array of answers or holds would
    /// be a large object: the GC pays for those with full collections (an array of a batch's answers
    /// once took the engine bench from 11 gen2 collections to 48, and 10-20 % of its throughput).
    /// Batches of 300 keep the working set's own tables (sized once) below the large-object
    /// threshold, so any large object of ours seen here is a per-batch one.
    /// </summary>
    [Fact]
    public async Task Full_batches_of_holds_and_confirms_allocate_no_large_objects_of_their_own()
    {
        await using var h = await EngineHarness.OpenAsync(kind, options: new EngineOptions { MaxBatch = 300 });
        var pool = await h.CreateAsync("Pool", null);
        var capped = await h.CreateAsync("Capped", 100_000, pool);
        await Round(); // sizes the working set's tables

        using var listener = new LargeAllocations();
        for (var i = 0; i < 3; i++)
        {
            await Round();
        }

        Assert.Empty(listener.Ours);
        Assert.Equal(2_400, (await h.NodeAsync(capped)).Sold);
        await h.AssertAuditCleanAsync();

        async Task Round()
        {
            // Awaited as plain tasks: Task.WhenAll over Task<EngineResult> would itself make an array of answers.
            var holds = Enumerable.Range(0, 1_200).Select(_ => h.HoldAsync(capped, 1)).ToArray();
            await Task.WhenAll(holds.Cast<Task>());
            var confirms = holds.Take(600)
                .Select(t => h.Engine.SubmitAsync(new TransitionReservation(EngineHarness.TenantA, t.Result.Outcome!.Value.Reservation!.Value.Id, Transition.Confirm)))
                .ToArray();
            await Task.WhenAll(confirms.Cast<Task>());
            Assert.All(confirms, c => Assert.Equal(OutcomeCode.Ok, c.Result.Outcome?.Code));
        }
    }

    /// <summary>Large-object allocations of this codebase's types, as the runtime's allocation ticks report them.</summary>
    private sealed class LargeAllocations : EventListener
    {
        private const int AllocationTick = 10;
        private const uint LargeObjectHeap = 1;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _ours = new();

        public IReadOnlyCollection<string> Ours => _ours;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventId != AllocationTick || e.PayloadNames is null)
            {
                return;
            }

            var heap = e.Payload![e.PayloadNames.IndexOf("AllocationKind")];
            var type = e.PayloadNames.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string : null;
            if (Convert.ToUInt32(heap, System.Globalization.CultureInfo.InvariantCulture) == LargeObjectHeap && type is not null && type.Contains("Capacity.", StringComparison.Ordinal))
            {
                _ours.Enqueue(type);
            }
        }
    }
}

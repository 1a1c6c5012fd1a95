using System.Collections.Concurrent;
using Capacity.Core;
using Capacity.Testing;
using Microsoft.Extensions.Logging;

namespace Capacity.Engine.Tests;

/// <summary>
/// The writer's own thread and its priority, read back from what Linux reports for the process's
/// threads (<c>/proc/self/task</c>): the thread's name and its nice value.
/// </summary>
public sealed class WriterPriorityTests
{
    [Fact]
    public async Task The_writer_runs_on_a_thread_of_its_own_at_the_nice_value_it_was_given()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "per-thread nice values are Linux's");

        // A higher nice value (a lower priority) is one any process may take, so this holds with or
        // without privileges; no other test gives its writer 7.
        var log = new LineLog();
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite, new EngineOptions { WriterNice = 7 }, log);
        var pool = await h.CreateAsync("Pool", 10);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 2)).Outcome?.Code);

        Assert.Contains(7, WriterThreadNiceValues());
        Assert.DoesNotContain(log.Lines, l => l.Contains("refused", StringComparison.Ordinal));
        Assert.Equal(2, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_writer_that_may_not_raise_its_priority_says_why_once_and_answers_as_before()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "per-thread nice values are Linux's");

        var log = new LineLog();
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite, new EngineOptions { WriterNice = -4 }, log);
        var pool = await h.CreateAsync("Pool", 10);
        var holds = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => h.HoldAsync(pool, 1)));

        Assert.Equal(10, holds.Count(r => r.Outcome?.Code == OutcomeCode.Ok));
        Assert.Equal(10, holds.Count(r => r.Outcome?.Code == OutcomeCode.InsufficientCapacity));
        var refusals = log.Lines.Where(l => l.Contains("refused", StringComparison.Ordinal)).ToList();
        if (CanRaisePriority())
        {
            // Root or CAP_SYS_NICE (as CI runs): the writer took the value.
            Assert.Contains(-4, WriterThreadNiceValues());
            Assert.Empty(refusals);
        }
        else
        {
            var refusal = Assert.Single(refusals);
            Assert.StartsWith("Information: The writer thread runs at the process's priority: raising it to nice -4 was refused (", refusal, StringComparison.Ordinal);
            Assert.DoesNotContain(-4, WriterThreadNiceValues());
        }

        Assert.Equal(10, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task A_nice_value_of_zero_leaves_the_writer_as_the_process_runs_and_says_nothing()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "per-thread nice values are Linux's");

        var log = new LineLog();
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite, new EngineOptions { WriterNice = 0 }, log);
        var pool = await h.CreateAsync("Pool", 10);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 1)).Outcome?.Code);

        Assert.Empty(log.Lines);
        Assert.Equal(1, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public void A_thread_created_by_a_raised_thread_runs_at_the_process_priority_not_the_raised_one()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "per-thread nice values are Linux's");
        Assert.SkipUnless(CanRaisePriority(), "raising a priority needs root or CAP_SYS_NICE (CI has it)");

        // The thread pool adds workers from whichever thread queues work when it is short of them, the
        // writer included: those must not become raised request threads.
        var normal = WriterPriority.OfCurrentThread();
        int? raised = null, child = null;
        string? refusal = "not run";
        var thread = new Thread(() =>
        {
            refusal = WriterPriority.TrySetCurrentThread(-3);
            raised = WriterPriority.OfCurrentThread();
            var inner = new Thread(() => child = WriterPriority.OfCurrentThread());
            inner.Start();
            inner.Join();
        });
        thread.Start();
        thread.Join();

        Assert.Null(refusal);
        Assert.Equal(-3, raised);
        Assert.Equal(normal, child);
    }

    /// <summary>Whether this process may lower a thread's nice value below its own (root, or CAP_SYS_NICE).</summary>
    private static bool CanRaisePriority()
    {
        var probe = 0;
        var thread = new Thread(() => probe = WriterPriority.TrySetCurrentThread(-1) is null ? 1 : 2);
        thread.Start();
        thread.Join();
        return probe == 1;
    }

    /// <summary>The nice values of this process's threads named as the writer names its thread.</summary>
    private static List<int> WriterThreadNiceValues()
    {
        var values = new List<int>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') != "capacity-writer")
                {
                    continue;
                }

                // Fields after the command name, which is in parentheses and may hold spaces: nice is field 19.
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                values.Add(int.Parse(fields[19 - 3], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read: another test's engine.
            }
        }

        return values;
    }

    private sealed class LineLog : ILogger<CommandEngine>
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}

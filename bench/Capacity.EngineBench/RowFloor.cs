using System.Diagnostics;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Capacity.EngineBench;

/// <summary>
/// The ceiling that "a hold is a row" puts on SQLite: reservation rows inserted exactly as the writer
/// inserts a new hold (its statement, columns, text and binding), into the store's own schema with
/// its indexes, as many to a transaction as the on-sale batches hold, WAL with synchronous=FULL, on
/// one thread like the writer, and nothing else: no command, no decision, no load, no counters, no
/// ledger, no callers. Durable holds through the engine cannot be faster than this.
/// </summary>
internal static class RowFloor
{
    public const int RowsPerCommit = 500;

    public static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var folder = Path.Combine(Path.GetTempPath(), "capacity-floor-" + Guid.NewGuid().ToString("N")[..12]);
        var path = Path.Combine(folder, "capacity.db");
        try
        {
            // The schema as the store migrates it; the store is closed again so that this run owns the file.
            await using (var store = new SqliteStore(path))
            {
                await store.MigrateAsync(ct);
            }

            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using (var pragmas = connection.CreateCommand())
            {
                pragmas.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
                pragmas.ExecuteNonQuery();
            }

            Console.WriteLine($"Capacity.EngineBench: floor on SQLite {path} (WAL, synchronous=FULL), {RowsPerCommit} rows a commit");
            using var begin = new RawStatement(connection, "BEGIN IMMEDIATE");
            using var commit = new RawStatement(connection, "COMMIT");
            using var insert = new RawStatement(
                connection,
                "INSERT INTO reservations (id, tenant_id, status, items, created_at, expires_at, confirmed_at, ended_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            var tenant = Guid.CreateVersion7();
            using var items = new JsonRowBuffer();
            var item = new[] { new ReservationItem(Guid.CreateVersion7(), 1, null) };
            Span<byte> id = stackalloc byte[36];

            var until = Stopwatch.GetTimestamp() + Seconds(s.Warmup);
            var measuring = false;
            long rows = 0, writing = 0, committing = 0, commits = 0, started = 0;
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= until)
                {
                    if (measuring)
                    {
                        break;
                    }

                    measuring = true;
                    started = now;
                    until = now + Seconds(s.Duration);
                }

                var t0 = Stopwatch.GetTimestamp();
                begin.Run();
                var at = DateTimeOffset.UtcNow;
                for (var i = 0; i < RowsPerCommit; i++)
                {
                    // What SqliteWriteTransaction does for each new hold.
                    Guid.CreateVersion7(at).TryFormat(id, out _, "D");
                    RowFormat.Items(item, items.Start());
                    insert.BindText(1, id);
                    insert.Bind(2, tenant);
                    insert.Bind(3, (long)ReservationStatus.Active);
                    insert.BindText(4, items.Written());
                    insert.Bind(5, RowFormat.Time(at));
                    insert.Bind(6, RowFormat.Time(at.AddMinutes(15)));
                    insert.Bind(7, (long?)null);
                    insert.Bind(8, (long?)null);
                    insert.Run();
                }

                var t1 = Stopwatch.GetTimestamp();
                commit.Run();
                var t2 = Stopwatch.GetTimestamp();
                if (measuring)
                {
                    rows += RowsPerCommit;
                    commits++;
                    writing += t1 - t0;
                    committing += t2 - t1;
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var perRow = (double)Stopwatch.Frequency / 1_000_000 * rows;
            Console.WriteLine($"  rows            {rows:N0} in {commits:N0} commits over {elapsed:F1} s");
            Console.WriteLine($"  per row         write {writing / perRow:F2} µs, commit {committing / perRow:F2} µs");
            Console.WriteLine($"RESULT scenario=floor store=sqlite rows_per_s={rows / elapsed:F0} write_us={writing / perRow:F3} commit_us={committing / perRow:F3} rows_per_commit={RowsPerCommit} passed=yes");
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static long Seconds(double seconds) => (long)(seconds * Stopwatch.Frequency);
}

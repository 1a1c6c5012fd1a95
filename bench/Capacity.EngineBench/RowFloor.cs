using System.Diagnostics;
using Capacity.Core;
using Capacity.Engine;
using Capacity.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Capacity.EngineBench;

/// <summary>
/// The ceiling that "a hold is a row" puts on SQLite: reservation rows inserted by the writer's own
/// <see cref="SqliteWriteTransaction.InsertReservation"/>, into the store's own schema with
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
            using var insert = new RawStatement(connection, SqliteWriteTransaction.InsertReservationSql);
            var tenant = Guid.CreateVersion7();
            using var items = new JsonRowBuffer();
            ReservationItem[] item = [new(Guid.CreateVersion7(), 1, null)];
            Span<byte> id = stackalloc byte[RawStatement.GuidTextLength];

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
                    var hold = new Reservation(Guid.CreateVersion7(at), tenant, ReservationStatus.Active, item, at, at.AddMinutes(15), null, null);
                    hold.Id.TryFormat(id, out _, "D");
                    SqliteWriteTransaction.InsertReservation(insert, id, hold, items, "bench"u8);
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
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static long Seconds(double seconds) => (long)(seconds * Stopwatch.Frequency);
}

using Capacity.Core;
using Capacity.Storage.Sqlite;
using Capacity.Testing;
using Microsoft.Data.Sqlite;

namespace Capacity.Engine.Tests;

/// <summary>
/// The SQLite writer's WAL written in one piece at each commit's sync (<see cref="WalWriteBuffer"/>):
/// fewer writes, and nothing else different: every commit readable by other connections the moment it
/// is acknowledged, transactions larger than the buffer and rolled-back ones whole, the file sound.
/// </summary>
public sealed class WalWriteBufferTests
{
    [Fact]
    public async Task A_batch_of_holds_reaches_the_WAL_in_one_write_where_SQLite_made_two_a_page()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 10_000);
        var before = h.Sqlite!.WalWrites ?? throw new InvalidOperationException("the writer's WAL is not open through WalWriteBuffer");

        // One batch: the writer is busy with the first hold while the other 39 queue behind it.
        var holds = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => h.HoldAsync(pool, 1)));
        Assert.All(holds, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));

        var after = h.Sqlite.WalWrites!.Value;
        var (gathered, written) = (after.Gathered - before.Gathered, after.Written - before.Written);

        // Two batches at most (the first hold alone, then the rest), each some pages of two writes each.
        Assert.True(gathered >= 8, $"SQLite made {gathered} writes to the WAL");
        Assert.True(written >= 1 && written * 4 <= gathered, $"{written} writes reached the file for SQLite's {gathered}");
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Every_acknowledged_hold_is_in_the_file_for_a_connection_of_SQLite_s_own_the_moment_it_is_answered()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        var pool = await h.CreateAsync("Pool", 2_000);
        await using var plain = new SqliteConnection($"Data Source={h.Location};Pooling=False;Mode=ReadOnly");
        await plain.OpenAsync();
        using var find = new SqliteCommand("SELECT COUNT(*) FROM reservations WHERE id = $id", plain);
        var id = find.Parameters.Add("$id", SqliteType.Text);

        // Eight callers in turn-taking waves, so batches of every size commit while this reader checks
        // each answer as it arrives; the reader's file view is SQLite's own VFS, not the writer's.
        var checkedHolds = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = 0; i < 60; i++)
            {
                var r = await h.HoldAsync(pool, 1);
                Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code);
                lock (find)
                {
                    id.Value = r.Outcome!.Value.Reservation!.Value.Id.ToString();
                    Assert.Equal(1L, (long)find.ExecuteScalar()!);
                    checkedHolds++;
                }
            }
        }));

        Assert.Equal(480, checkedHolds);
        Assert.Equal(480, (await h.NodeAsync(pool)).Reserved);
        await h.AssertAuditCleanAsync();
    }

    [Fact]
    public async Task Transactions_larger_than_the_buffer_commit_whole_and_rolled_back_ones_leave_nothing()
    {
        var path = await EngineHarness.NewLocationAsync(StoreKind.Sqlite);
        await using (var writer = new SqliteConnection($"Data Source={WalWriteBuffer.Uri(path)};Pooling=False"))
        {
            await writer.OpenAsync();

            // A page cache of 8 pages makes SQLite spill frames to the WAL mid-transaction, read them
            // back and write some of them again before the commit: every path through the buffer.
            Run(writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=8; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);");
            Fill(writer, 0, 3_000, commit: true);      // about 3 MB: many times WalWriteBuffer.Capacity
            Fill(writer, 3_000, 2_000, commit: false); // spilled, then rolled back
            Run(writer, "UPDATE t SET v = zeroblob(900) WHERE k % 7 = 0;");

            // The same 15 or so pages changed five times in one transaction: SQLite writes a page that
            // this transaction already spilled over its earlier frame, out of the buffer's order.
            Run(writer, "BEGIN IMMEDIATE");
            foreach (var letter in "abcde")
            {
                Run(writer, $"UPDATE t SET v = CAST(printf('%.*c', 1000, '{letter}') AS BLOB) WHERE k BETWEEN 1 AND 60 AND k % 7 <> 0");
            }

            Run(writer, "COMMIT");
            Fill(writer, 5_000, 500, commit: true);

            var counts = WalWriteBuffer.Counts(writer) ?? throw new InvalidOperationException("the WAL is not open through WalWriteBuffer");
            Assert.True(counts.Written * 4 < counts.Gathered, $"{counts.Written} writes reached the file for SQLite's {counts.Gathered}");

            await using var reader = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
            await reader.OpenAsync();
            Assert.Equal(3_500L, Scalar(reader, "SELECT COUNT(*) FROM t"));
            Assert.Equal(0L, Scalar(reader, "SELECT COUNT(*) FROM t WHERE k >= 3000 AND k < 5000"));
            Assert.Equal(429L, Scalar(reader, "SELECT COUNT(*) FROM t WHERE length(v) = 900"));
            Assert.Equal(1000L * 3_000 - 100L * 429 + 1000L * 500, Scalar(reader, "SELECT SUM(length(v)) FROM t"));
            Assert.Equal(52L, Scalar(reader, "SELECT COUNT(*) FROM t WHERE v = CAST(printf('%.*c', 1000, 'e') AS BLOB)"));
        }

        // Reopened as SQLite opens it (the WAL recovered from the file alone), the same rows, and sound.
        await using var reopened = new SqliteConnection($"Data Source={path};Pooling=False");
        await reopened.OpenAsync();
        Assert.Equal("ok", Scalar(reopened, "PRAGMA integrity_check"));
        Assert.Equal(3_500L, Scalar(reopened, "SELECT COUNT(*) FROM t"));

        static void Fill(SqliteConnection c, int from, int count, bool commit)
        {
            Run(c, "BEGIN IMMEDIATE");
            using var insert = new SqliteCommand("INSERT INTO t (k, v) VALUES ($k, randomblob(1000))", c);
            var k = insert.Parameters.Add("$k", SqliteType.Integer);
            for (var i = from; i < from + count; i++)
            {
                k.Value = i;
                insert.ExecuteNonQuery();
            }

            // Inside the transaction every page is read again, the spilled ones from the WAL: the last
            // of them are still gathered in the buffer when this scan reaches them.
            Assert.Equal((long)count, Scalar(c, $"SELECT COUNT(*) FROM t WHERE k >= {from} AND length(v) = 1000"));
            Run(c, commit ? "COMMIT" : "ROLLBACK");
        }
    }

    [Fact]
    public async Task A_store_opens_and_commits_where_its_path_holds_the_characters_a_URI_escapes()
    {
        var root = Path.GetDirectoryName(await EngineHarness.NewLocationAsync(StoreKind.Sqlite))!;
        var path = Path.Combine(root, "a %41 b?c#d", "capacity.db");
        await using var h = await EngineHarness.OpenExistingAsync(StoreKind.Sqlite, path);
        var pool = await h.CreateAsync("Pool", 10);
        Assert.Equal(OutcomeCode.Ok, (await h.HoldAsync(pool, 3)).Outcome?.Code);
        Assert.NotNull(h.Sqlite!.WalWrites);

        // The files are where the path says (not at a decoded "%41", which is "A", nor cut at '?' or '#').
        var files = Directory.GetFiles(Path.GetDirectoryName(path)!).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["capacity.db", "capacity.db-shm", "capacity.db-wal", "capacity.db.lock"], files);
        Assert.Equal(["a %41 b?c#d"], Directory.GetFileSystemEntries(root).Select(e => Path.GetFileName(e)).ToArray());
        await using var plain = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
        await plain.OpenAsync();
        Assert.Equal(1L, Scalar(plain, "SELECT COUNT(*) FROM reservations"));
        await h.AssertAuditCleanAsync();
    }

    /// <summary>
    /// EngineBench's sweep measures commits without the flush by the VFS skipping the sync (never by
    /// <c>synchronous=OFF</c>, which would publish frames unwritten): it needs the writer's WAL open
    /// through the VFS from the store's first moment, and the commits after it still reach the file.
    /// </summary>
    [Fact]
    public async Task A_store_measured_without_the_flush_still_writes_every_commit_where_readers_find_it()
    {
        await using var h = await EngineHarness.OpenAsync(StoreKind.Sqlite);
        h.Sqlite!.SkipSyncForMeasurement();
        var pool = await h.CreateAsync("Pool", 100);
        var holds = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => h.HoldAsync(pool, 1)));
        Assert.All(holds, r => Assert.Equal(OutcomeCode.Ok, r.Outcome?.Code));
        Assert.Equal(30L, await h.SqlAsync("SELECT COUNT(*) FROM reservations WHERE status = 0"));
        await h.AssertAuditCleanAsync();
    }

    private static void Run(SqliteConnection c, string sql)
    {
        using var cmd = new SqliteCommand(sql, c);
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = new SqliteCommand(sql, c);
        return cmd.ExecuteScalar();
    }
}

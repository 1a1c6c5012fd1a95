using SQLitePCL;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// What SQLite takes once per process, before its first connection opens. The library as shipped
/// (e_sqlite3) keeps memory statistics, and to keep them every allocation and free it makes takes one
/// mutex shared by the whole process. Nothing here reads those statistics (they serve
/// <c>sqlite3_memory_used</c>, <c>sqlite3_status64</c> and the heap limits, none of which the store
/// sets), and SQLite's own advice for speed is to switch them off. Measured with `bench/ab.sh`, 6
/// rounds each: holds 1.024×, holds with every rule on 1.023× (docs/performance.md, "SQLite's memory
/// statistics off").
/// <para>
/// SQLite refuses the setting once it has initialized, which its first connection does; a process
/// that opened one before any store (a test, say) keeps the statistics, slower but otherwise the same.
/// In the server the first connection is a store's.
/// </para>
/// </summary>
internal static class SqliteProcess
{
    /// <summary>Whether this process's SQLite keeps no memory statistics (false when it had initialized before the first store).</summary>
    public static bool MemoryStatisticsOff { get; } = TurnOffMemoryStatistics();

    /// <summary>Runs the setting if it has not run: the first store calls this before it opens its connection.</summary>
    public static void Configure() => _ = MemoryStatisticsOff;

    private static bool TurnOffMemoryStatistics()
    {
        // Microsoft.Data.Sqlite would pick the same library at its first connection; picked here,
        // so that the setting reaches the library that connection uses.
        Batteries_V2.Init();
        return raw.sqlite3_config(raw.SQLITE_CONFIG_MEMSTATUS, 0) == raw.SQLITE_OK;
    }
}

using System.Runtime.CompilerServices;
using Capacity.Storage.Sqlite;

namespace Capacity.Engine.Tests;

internal static class SqliteFirst
{
    /// <summary>
    /// SQLite takes its process-wide settings only before its first connection (<see cref="SqliteProcess"/>).
    /// In the server a store opens first; here some tests open connections of their own, in parallel,
    /// so the settings are made when this assembly loads, before any test runs.
    /// </summary>
#pragma warning disable CA2255 // A test assembly is the process's entry here: nothing runs before it that could miss this.
    [ModuleInitializer]
    internal static void Configure() => SqliteProcess.Configure();
#pragma warning restore CA2255
}

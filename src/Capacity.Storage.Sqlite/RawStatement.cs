using System.Buffers.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// A statement prepared once on a connection and bound straight through SQLite's C API. Used only
/// for the rows the writer reads or writes once per hold: there Microsoft.Data.Sqlite's
/// per-execution work (a data reader per statement, boxed parameter values, type inference) cost
/// about as much as SQLite's own insert (measured by <c>EngineBench --scenario onsale</c> on SQLite;
/// see docs/performance.md). It runs inside whatever transaction the connection has open.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    /// <summary>A GUID as the "D" text every table keys on: 32 hex digits and 4 hyphens.</summary>
    public const int GuidTextLength = 36;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _stmt));
    }

    /// <summary>True when no transaction is open on the connection (SQLite ends one itself after some errors).</summary>
    public static bool InAutocommit(SqliteConnection connection) =>
        raw.sqlite3_get_autocommit(connection.Handle ?? throw new InvalidOperationException("The connection is not open.")) != 0;

    public void Bind(int index, long value) => Check(raw.sqlite3_bind_int64(_stmt, index, value));

    public void Bind(int index, long? value) => Check(value is { } v ? raw.sqlite3_bind_int64(_stmt, index, v) : raw.sqlite3_bind_null(_stmt, index));

    /// <summary>A GUID as the lower-case "D" text every table keys on, formatted without allocating.</summary>
    public void Bind(int index, Guid value)
    {
        Span<byte> text = stackalloc byte[GuidTextLength];
        value.TryFormat(text, out _, "D");
        Check(raw.sqlite3_bind_text(_stmt, index, text));
    }

    /// <summary>UTF-8 text; SQLite copies it before returning.</summary>
    public void BindText(int index, ReadOnlySpan<byte> utf8) => Check(raw.sqlite3_bind_text(_stmt, index, utf8));

    /// <summary>A BLOB; SQLite copies it before returning.</summary>
    public void BindBlob(int index, ReadOnlySpan<byte> value) => Check(raw.sqlite3_bind_blob(_stmt, index, value));

    public void Bind(int index, string? value) => Check(value is null ? raw.sqlite3_bind_null(_stmt, index) : raw.sqlite3_bind_text(_stmt, index, value));

    public string? Text(int column) => IsNull(column) ? null : raw.sqlite3_column_text(_stmt, column).utf8_to_string();

    /// <summary>Runs the statement, which must return no rows, and resets it for the next use.</summary>
    public void Run()
    {
        var rc = raw.sqlite3_step(_stmt);
        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
            throw new InvalidOperationException($"SQLite returned {rc} for a statement without rows.");
        }
    }

    /// <summary>Steps a query: true with a row to read, false (and reset for the next use) when there are no more.</summary>
    public bool Step()
    {
        var rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }

        return false;
    }

    /// <summary>Stops a query before its last row, so the statement holds no read lock.</summary>
    public void Reset() => raw.sqlite3_reset(_stmt);

    public bool IsNull(int column) => raw.sqlite3_column_type(_stmt, column) == raw.SQLITE_NULL;

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    /// <summary>A text or blob column's bytes (text as UTF-8), valid until the next step or reset.</summary>
    public ReadOnlySpan<byte> Bytes(int column) => raw.sqlite3_column_blob(_stmt, column);

    /// <summary>A GUID kept as "D" text.</summary>
    public Guid Guid(int column) =>
        Utf8Parser.TryParse(Bytes(column), out Guid id, out var used, 'D') && used == GuidTextLength
            ? id
            : throw new InvalidDataException($"Column {column} does not hold a GUID.");

    public void Dispose() => _stmt.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }
}

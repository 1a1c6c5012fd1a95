using Microsoft.Data.Sqlite;

namespace Capacity.Storage.Sqlite;

/// <summary>
/// Commands kept with their connection, so each statement is prepared once: preparing costs several
/// times more than running (measured on a capacity read; see docs/performance.md).
/// Not thread-safe; one per connection, used by one caller at a time.
/// </summary>
internal sealed class StatementCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = [];

    public SqliteConnection Connection => connection;

    /// <summary>The command for <paramref name="sql"/>, with one parameter per name, in that order.</summary>
    public SqliteCommand Get(string sql, SqliteTransaction? transaction, params string[] parameters)
    {
        if (!_commands.TryGetValue(sql, out var cmd))
        {
            cmd = new SqliteCommand(sql, connection);
            foreach (var p in parameters)
            {
                cmd.Parameters.Add(new SqliteParameter(p, null));
            }

            _commands[sql] = cmd;
        }

        cmd.Transaction = transaction;
        return cmd;
    }

    public void Dispose()
    {
        foreach (var cmd in _commands.Values)
        {
            cmd.Dispose();
        }

        _commands.Clear();
    }
}

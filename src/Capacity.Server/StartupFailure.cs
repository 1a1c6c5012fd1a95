namespace Capacity.Server;

/// <summary>
/// A start that cannot succeed until the operator changes something. Program prints the message
/// (one sentence naming the setting and the fix) and exits with the code, never a stack trace: a
/// trace and exit 134 read as a crash of ours, not as a setting to fix. The codes are sysexits(3)'s,
/// so a service manager can tell a setting to correct (78, 73: restarting will not help) from a
/// resource to wait for (69, 75). They are listed in README.md and docs/operations.md.
/// </summary>
internal sealed class StartupFailure(int exitCode, string message) : Exception(message)
{
    /// <summary>
    /// EX_DATAERR: the database was migrated by a newer version of Capacity. Not 78: no setting is wrong,
    /// and none would make this version able to use that schema; not 69 or 75: waiting will not help.
    /// What this version cannot use is the data it was pointed at, so a service manager stops retrying
    /// and an operator runs the newer version or restores the backup taken before the upgrade.
    /// </summary>
    public const int NewerDatabase = 65;

    /// <summary>EX_UNAVAILABLE: the database does not answer or refuses the login.</summary>
    public const int DatabaseUnavailable = 69;

    /// <summary>EX_SOFTWARE: anything else that stops the start; a bug, printed with its stack trace.</summary>
    public const int Unexpected = 70;

    /// <summary>EX_CANTCREAT: the data directory or the SQLite file cannot be created or written.</summary>
    public const int CannotWrite = 73;

    /// <summary>EX_TEMPFAIL: another process holds what this one needs: the port, or the SQLite file.</summary>
    public const int InUse = 75;

    /// <summary>EX_CONFIG: a setting is unknown, missing or out of range.</summary>
    public const int BadConfiguration = 78;

    public int ExitCode { get; } = exitCode;

    public static StartupFailure Configuration(string message) => new(BadConfiguration, message);

    /// <summary>
    /// An exception's message and its innermost cause's, on one line, for the one line a failed start
    /// prints ("Failed to connect to db:5432: Connection refused").
    /// </summary>
    public static string Reason(Exception e)
    {
        var inner = e;
        while (inner.InnerException is { } next)
        {
            inner = next;
        }

        var text = inner == e || e.Message.Contains(inner.Message, StringComparison.OrdinalIgnoreCase) ? e.Message : $"{e.Message.TrimEnd('.', ' ')}: {inner.Message}";
        return text.ReplaceLineEndings(" ").TrimEnd('.', ' ');
    }
}

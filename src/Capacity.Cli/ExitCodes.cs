namespace Capacity.Cli;

/// <summary>What the capacity command's exit code means; scripts branch on these.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Ok = 0;

    /// <summary><c>verify</c> found counters that disagree with the ledger, or <c>bench</c>'s checks failed.</summary>
    public const int Violations = 1;

    /// <summary>The command line was wrong, or the service refused its values (400).</summary>
    public const int Usage = 2;

    /// <summary>No such tenant, capacity, reservation or event (404).</summary>
    public const int NotFound = 3;

    /// <summary>The state forbids it: not enough capacity, the hold expired or is not active, … (409).</summary>
    public const int Conflict = 4;

    /// <summary>The key is unknown, invalid or of the wrong kind (401, 403). No key at all is a usage error.</summary>
    public const int Auth = 5;

    /// <summary>The service could not be reached, stayed unavailable through every retry (503, 429), or ended a watch's stream.</summary>
    public const int Unavailable = 6;

    /// <summary>Any other error answer from the service.</summary>
    public const int ApiError = 7;

    /// <summary>Interrupted with Ctrl+C (except <c>watch</c>, for which that is the normal way to stop; <c>bench</c> still reports first).</summary>
    public const int Interrupted = 130;

    /// <summary>The text shown in <c>--help</c> and in docs/cli.md.</summary>
    internal const string Help = """
        Exit codes:
          0  ok
          1  verify found violations, or bench's checks failed
          2  usage error (bad arguments, or the service refused their values: 400)
          3  not found (404)
          4  conflict: insufficient capacity, hold expired or not active, ... (409)
          5  auth: key unknown, invalid or of the wrong kind (401, 403)
          6  service unavailable after retries, unreachable, or it ended a watch (503, 429)
          7  other API error
          130 interrupted (Ctrl+C), except watch, which exits 0
        """;

    /// <summary>The exit code for an error answer with this HTTP status.</summary>
    public static int FromStatus(int status) => status switch
    {
        400 => Usage,
        401 or 403 => Auth,
        404 => NotFound,
        409 => Conflict,
        429 or 503 => Unavailable,
        _ => ApiError,
    };
}

using System.CommandLine.Parsing;

namespace Capacity.Cli;

/// <summary>
/// <c>--idempotency-key</c>: the key of a command that sends one write, so that running it again after a lost answer
/// gets the first answer back instead of a second hold (or sale, or refund). The commands that take it are marked
/// with <c>Host.OneWrite</c> where they are built.
/// </summary>
public static partial class CapacityCli
{
    /// <summary>The server's <c>Writes.MaxKeyLength</c>; the tests send a key of this length to the real server.</summary>
    private const int MaxIdempotencyKeyLength = 255;

    private static readonly string IdempotencyKeyRule = $"1 to {MaxIdempotencyKeyLength} printable ASCII characters, no space at either end";

    private const string ReplayedNotice = "replayed: the first answer to this Idempotency-Key; nothing was done again.";

    /// <summary>
    /// The server's rule (1 to <see cref="MaxIdempotencyKeyLength"/> characters from ' ' to '~'), checked before anything
    /// is sent. A space at either end is refused too: HTTP drops it from a header, so the server would see another key.
    /// </summary>
    private static void ValidateIdempotencyKey(OptionResult result)
    {
        var key = result.GetValueOrDefault<string?>();
        if (key is null)
        {
            return;
        }

        var valid = key.Length is > 0 and <= MaxIdempotencyKeyLength
            && key[0] != ' '
            && key[^1] != ' '
            && key.All(ch => ch is >= ' ' and <= '~');
        if (!valid)
        {
            result.AddError($"--idempotency-key must be {IdempotencyKeyRule}.");
        }
    }

    /// <summary>The command as typed without its options, such as <c>capacities check</c>.</summary>
    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (var c = command; c.Parent is CommandResult parent; c = parent)
        {
            names.Insert(0, c.Command.Name);
        }

        return names.Count == 0 ? "capacity" : string.Join(' ', names);
    }

    /// <summary>Remembers whether the last answer was a replay (<c>Idempotent-Replayed: true</c>) of a key's first one.</summary>
    private sealed class ReplayWatch : DelegatingHandler
    {
        private volatile bool _replayed;

        /// <summary>The last answer's: of a write the SDK retried, the one the command ends with.</summary>
        public bool Replayed => _replayed;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            _replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values)
                && values.Any(v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase));
            return response;
        }
    }
}

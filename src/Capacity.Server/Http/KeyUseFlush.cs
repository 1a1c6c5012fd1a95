using Capacity.Core;
using Capacity.Engine;

namespace Capacity.Server.Http;

/// <summary>
/// Writes each key's <c>last_used_at</c> about once a minute, off the request path. A request that
/// uses a remembered key only notes the time in memory (<see cref="Authenticator"/>, one write of a
/// timestamp it has read anyway); once a minute the keys used since the last flush go to the engine as one
/// <see cref="RecordKeyUse"/> command per <see cref="ChunkSize"/> keys, decided and written like any
/// other change. A write per request would put one row update per request through the single writer
/// (and, on PostgreSQL, lock the key's row on every node); a minute's precision is what the field is
/// for: telling a key in use from one that can be revoked. What was noted since the last flush is
/// written once more when the server stops; a node killed outright loses at most that minute.
/// </summary>
internal sealed class KeyUseFlush(Authenticator authenticator, CommandEngine engine, ILogger<KeyUseFlush> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Keys per command: one batch's load of key rows stays small whatever the number of keys in use.</summary>
    private const int ChunkSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // Bounded by the host's shutdown timeout: a last record of use is not worth holding a stop up.
        try
        {
            await FlushAsync().WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends the uses noted since the last flush; a chunk the engine could not apply stays noted for the next.</summary>
    internal async Task<int> FlushAsync()
    {
        var uses = authenticator.UnflushedUses();
        var written = 0;
        for (var start = 0; start < uses.Count; start += ChunkSize)
        {
            var chunk = uses.GetRange(start, Math.Min(ChunkSize, uses.Count - start));
            var command = new RecordKeyUse([.. chunk.Select(u => new KeyUse(u.KeyId, u.UsedAt))]);
            var result = await engine.SubmitAsync(command);
            if (result.Status != EngineStatus.Decided)
            {
                logger.LogInformation("The last use of {Count} API keys was not written ({Status}); it is tried again in a minute", chunk.Count, result.Status);
                continue;
            }

            foreach (var use in chunk)
            {
                use.Flushed();
            }

            written += chunk.Count;
        }

        return written;
    }
}

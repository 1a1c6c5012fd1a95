namespace Capacity.Client;

/// <summary>How a <see cref="CapacityClient"/> retries. The defaults suit interactive use.</summary>
public sealed record CapacityClientOptions
{
    /// <summary>
    /// Attempts per call, the first included (default 4). 1 turns retries off. Retried: 503, 429,
    /// 409 <c>IDEMPOTENCY_IN_PROGRESS</c>, connection failures and HttpClient timeouts.
    /// </summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>The first backoff delay; it doubles per attempt, with jitter (default 200 ms).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The longest wait before a retry (default 30 s), including one a <c>Retry-After</c> header asks
    /// for: a server asking for longer gets its answer surfaced instead of a stalled caller.
    /// </summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}

namespace Capacity.Server.Http;

/// <summary>The server's own limits and periods, bound from the <c>Capacity</c> configuration section.</summary>
internal sealed class ServerOptions
{
    public long MaxBodyBytes { get; set; } = 64 * 1024;
    public int DefaultPageSize { get; set; } = 100;
    public int MaxPageSize { get; set; } = 1000;
    public int SweepIntervalMs { get; set; } = 1000;
    public int IdempotencyRetentionHours { get; set; } = 24;
    public int IdempotencyWaitMs { get; set; } = 10_000;

    /// <summary>How long a live stream may stay silent before it sends a heartbeat, so proxies keep it open.</summary>
    public int StreamHeartbeatMs { get; set; } = 15_000;

    /// <summary>
    /// An OpenTelemetry collector's OTLP/HTTP address (<c>http://collector:4318</c>): traces of each
    /// request through the engine's batch are exported there. Unset (and no <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
    /// in the environment): no tracing at all, which costs the hot path nothing.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>
    /// The longest the node drives its hot paths through a throwaway server before it listens (the
    /// root's WarmUp), so that it answers at full speed from its first request: it stops sooner, once
    /// the runtime has compiled them optimised; 0 starts at once.
    /// </summary>
    public int WarmUpMs { get; set; } = 10_000;

    /// <summary>
    /// Most entries of the buyers' usage log one fold adds into their rows while the writer is idle
    /// (<see cref="Limits.UsageFoldService"/>): a transaction of about 2 ms at 100 on SQLite, which a
    /// command arriving during it waits for. 0 folds only when a limit is created.
    /// </summary>
    public int UsageFoldSlice { get; set; } = 100;

    public TimeSpan IdempotencyWait => TimeSpan.FromMilliseconds(IdempotencyWaitMs);

    public TimeSpan StreamHeartbeat => TimeSpan.FromMilliseconds(StreamHeartbeatMs);
}

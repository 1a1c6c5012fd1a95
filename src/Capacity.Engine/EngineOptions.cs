namespace Capacity.Engine;

public sealed record EngineOptions
{
    /// <summary>Most commands applied in one transaction.</summary>
    public int MaxBatch { get; init; } = 1000;

    /// <summary>Commands waiting beyond this are refused at once rather than queued without limit.</summary>
    public int QueueLimit { get; init; } = 50_000;

    /// <summary>Off applies one command per transaction: the seed's approach, kept for comparison.</summary>
    public bool Batching { get; init; } = true;

    /// <summary>
    /// Refuses a hold without queueing it when the committed rows already show it cannot fit, where
    /// the store has them in memory (<see cref="ICommittedRows"/>).
    /// </summary>
    public bool EarlyRefusals { get; init; } = true;
}

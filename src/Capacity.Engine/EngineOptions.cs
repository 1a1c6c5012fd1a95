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

    /// <summary>
    /// The writer thread's nice value on Linux (−20 to 19; lower runs first), set when the engine starts
    /// where the process may (<see cref="WriterPriority"/>). 0 leaves the writer as the process runs.
    /// </summary>
    public int WriterNice { get; init; } = -10;
}

namespace Capacity.EngineBench;

/// <summary>What one run does; see Program.cs for the options that fill it.</summary>
internal sealed record Settings(
    string Store,
    bool Batching,
    int Clients,
    double Duration,
    double Warmup,
    string? Connection,
    string Scenario,
    int Holds,
    int MaxBatch,
    string? SqlitePath,
    bool Buyers = false);

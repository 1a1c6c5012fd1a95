using Capacity.Core;

namespace Capacity.Engine;

public enum EngineStatus
{
    /// <summary>The core decided; <see cref="EngineResult.Outcome"/> holds the answer and it is durable.</summary>
    Decided,
    /// <summary>The key was seen before with the same request: <see cref="EngineResult.Response"/> is the original answer.</summary>
    Replayed,
    /// <summary>The key was seen before with a different method, path or body.</summary>
    KeyReused,
    /// <summary>Another node is applying the first request with this key right now; ask again shortly.</summary>
    InProgress,
    /// <summary>The store failed; nothing of the batch was applied.</summary>
    Unavailable,
    /// <summary>The queue is full; the command was never queued.</summary>
    Overloaded,
}

public readonly record struct EngineResult(EngineStatus Status, Outcome? Outcome = null, StoredResponse? Response = null);

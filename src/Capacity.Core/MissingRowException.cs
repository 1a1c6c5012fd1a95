namespace Capacity.Core;

/// <summary>
/// A decision needed a row that was not loaded. In a batch that is a store bug and fails the batch;
/// a decision on a partial copy of the rows (the engine's early refusal) catches it, since it means
/// only that the copy cannot decide.
/// </summary>
public sealed class MissingRowException(string message) : InvalidOperationException(message);

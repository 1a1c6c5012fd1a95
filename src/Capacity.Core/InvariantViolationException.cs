namespace Capacity.Core;

/// <summary>
/// Something that must always hold did not: a bug or a corrupted row, never a business outcome.
/// Thrown by the core's Debug-build assertions (<see cref="WorkingSet.AssertBatchConsistent"/> and
/// the post-conditions of each decision).
/// </summary>
public sealed class InvariantViolationException : Exception
{
    public InvariantViolationException()
    {
    }

    public InvariantViolationException(string message)
        : base(message)
    {
    }

    public InvariantViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

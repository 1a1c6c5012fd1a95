using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Http;

/// <summary>
/// The <c>after</c>/<c>limit</c> query of every paged list: <c>after</c> is the sequence number of the
/// last item already seen (0 or absent: from the start), <c>limit</c> 1 to <see cref="ServerOptions.MaxPageSize"/>.
/// </summary>
internal readonly record struct Paging(long After, int Limit)
{
    public static ProblemHttpResult? TryRead(string? after, string? limit, ServerOptions options, out Paging paging)
    {
        paging = default;
        long afterSeq = 0;
        if (after is not null && (!long.TryParse(after, out afterSeq) || afterSeq < 0))
        {
            return ApiErrors.Validation("after", "after must be a sequence number (0 or more).");
        }

        var size = options.DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, out size) || size < 1 || size > options.MaxPageSize))
        {
            return ApiErrors.Validation("limit", $"limit must be between 1 and {options.MaxPageSize}.");
        }

        paging = new Paging(afterSeq, size);
        return null;
    }

    /// <summary>The cursor for the next page: the last sequence of a full page, null when the page was not full.</summary>
    public long? Next(int count, long lastSequence) => count == Limit ? lastSequence : null;
}

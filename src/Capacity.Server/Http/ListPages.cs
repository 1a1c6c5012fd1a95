using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Http;

/// <summary>
/// The optional <c>after</c>/<c>limit</c> of a list read whole from one committed state, in its own
/// order (creation order): without either, the whole list, as these lists were before they paged; with
/// <c>limit</c> (1 to <see cref="ServerOptions.MaxPageSize"/>) or <c>after</c> (the id of the last item
/// of the previous page), one page, and <c>next_after</c> on every page but the last. An item made
/// between two pages shows on the last one. The read stays whole (a heavy read, taking its turn), the
/// answer is bounded.
/// </summary>
internal static class ListPages
{
    /// <param name="key">An item's id as the answer shows it.</param>
    /// <param name="what">What an <c>after</c> that names nothing failed to name ("capacity of event x").</param>
    /// <param name="more">True when items follow the page: its last id is the next page's <c>after</c>.</param>
    public static ProblemHttpResult? TryCut<T>(
        IReadOnlyList<T> all, Func<T, string> key, string? after, string? limit, ServerOptions options, string what, out T[] page, out bool more)
    {
        page = [];
        more = false;
        var size = options.DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, out size) || size < 1 || size > options.MaxPageSize))
        {
            return ApiErrors.Validation("limit", $"limit must be between 1 and {options.MaxPageSize}.");
        }

        if (after is null && limit is null)
        {
            page = [.. all];
            return null;
        }

        var start = 0;
        if (after is not null)
        {
            var index = IndexOf(all, key, after);
            if (index < 0)
            {
                return ApiErrors.Validation("after", $"after must be the id of the last {what} on the previous page; {after} is none.");
            }

            start = index + 1;
        }

        page = [.. all.Skip(start).Take(size)];
        more = start + page.Length < all.Count;
        return null;
    }

    // An id is matched exactly, or as a uuid in any of its spellings (upper case, braces).
    private static int IndexOf<T>(IReadOnlyList<T> all, Func<T, string> key, string id)
    {
        var uuid = Guid.TryParse(id, out var parsed) ? parsed.ToString() : null;
        for (var i = 0; i < all.Count; i++)
        {
            var k = key(all[i]);
            if (k == id || (uuid is not null && k == uuid))
            {
                return i;
            }
        }

        return -1;
    }
}

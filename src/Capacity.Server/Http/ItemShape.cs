using Capacity.Core;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capacity.Server.Http;

/// <summary>
/// The shape of a request's items (a cart's, a waiting-list entry's), checked before anything is
/// stored for its Idempotency-Key: 1 to <see cref="CoreLimits.MaxItemsPerReservation"/> objects, each
/// with a quantity the core's rule allows.
/// </summary>
internal static class ItemShape
{
    /// <param name="holds">How the request names its items, for the sentence: "A reservation holds".</param>
    public static ProblemHttpResult? Invalid<T>(T[] items, Func<T, int> quantity, string holds, CoreLimits limits)
        where T : class
    {
        if (items.Length == 0 || items.Length > limits.MaxItemsPerReservation)
        {
            return ApiErrors.Validation("items", $"{holds} 1 to {limits.MaxItemsPerReservation} items.");
        }

        for (var i = 0; i < items.Length; i++)
        {
            if (items[i] is null)
            {
                return ApiErrors.Validation($"items[{i}]", "Each item must be an object.");
            }

            if (!Rules.IsValidQuantity(quantity(items[i]), limits))
            {
                return ApiErrors.InvalidQuantity($"items[{i}].quantity " + Rules.QuantityRule(limits));
            }
        }

        return null;
    }
}

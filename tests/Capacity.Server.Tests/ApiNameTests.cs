using Capacity.Core;
using Capacity.Server.Http;

namespace Capacity.Server.Tests;

/// <summary>The names answers give core enums' values, worked out once.</summary>
public sealed class ApiNameTests
{
    [Fact]
    public void Every_value_is_named_in_lower_case_as_the_openapi_document_lists_it_and_naming_allocates_nothing()
    {
        AssertNamed<CapacityMode>();
        AssertNamed<ReservationStatus>();
        AssertNamed<WaitlistStatus>();
        AssertNamed<LedgerKind>();
        AssertNamed<KeyScope>();

        static void AssertNamed<T>() where T : struct, Enum
        {
            var values = Enum.GetValues<T>();
            Assert.Equal(new OneOfAttribute(typeof(T)).Values, values.Select(v => v.ApiName()));
            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var v in values)
            {
                _ = v.ApiName();
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void A_number_outside_the_enum_is_named_by_its_digits_as_before() =>
        Assert.Equal("99", ((CapacityMode)99).ApiName());
}

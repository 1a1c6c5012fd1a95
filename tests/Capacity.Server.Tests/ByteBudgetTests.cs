using Capacity.Server.Http;
using Capacity.Testing;

namespace Capacity.Server.Tests;

/// <summary>The byte budget a tenant's streams share: first come, first sent, each waiting only for the debt before it.</summary>
public sealed class ByteBudgetTests
{
    [Fact]
    public void Spenders_wait_in_the_order_they_came_each_only_for_the_debt_before_it()
    {
        var time = new SteppedTime();
        var budget = new ByteBudget(1000, time);

        // A second's worth goes at once; each later spender waits for what those before it took past it.
        Assert.Equal(TimeSpan.Zero, budget.Take(1000));
        Assert.Equal(TimeSpan.Zero, budget.Take(500));
        Assert.Equal(TimeSpan.FromSeconds(0.5), budget.Take(500));
        Assert.Equal(TimeSpan.FromSeconds(1), budget.Take(250));

        // A second later a second's worth of the debt is paid: the next waits for the rest only.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(0.25), budget.Take(100));

        // Idle, it fills up again, to a second's worth and no more.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.Zero, budget.Take(1000));
        Assert.Equal(TimeSpan.Zero, budget.Take(1));
        Assert.Equal(TimeSpan.FromSeconds(0.001), budget.Take(1));
    }

    [Fact]
    public async Task A_spender_that_gives_up_waiting_gives_its_bytes_back()
    {
        var time = new SteppedTime();
        var budget = new ByteBudget(1000, time);
        Assert.Equal(TimeSpan.Zero, budget.Take(1000));
        Assert.Equal(TimeSpan.Zero, budget.Take(1000));

        using var gone = new CancellationTokenSource();
        var waiting = budget.SpendAsync(500, gone.Token).AsTask();
        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(TimeSpan.FromSeconds(1), budget.Take(100));
    }
}

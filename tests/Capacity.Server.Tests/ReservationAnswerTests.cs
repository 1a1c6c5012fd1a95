using Capacity.Core;
using Capacity.Server.Reservations;

namespace Capacity.Server.Tests;

/// <summary>
/// A write's answer leaves the server after the batch decided it: a change decided a moment before a
/// hold's expiry must not answer 200 with the hold already <c>expired</c> (an outside test saw it),
/// while a read at the same instant says what a confirm would now meet.
/// </summary>
public sealed class ReservationAnswerTests
{
    private static readonly DateTimeOffset ExpiresAt = new(2030, 1, 1, 12, 15, 0, TimeSpan.Zero);

    private static readonly Reservation Hold = new(
        Guid.CreateVersion7(), Guid.CreateVersion7(), ReservationStatus.Active, [new ReservationItem(Guid.CreateVersion7(), 2, null)],
        ExpiresAt.AddMinutes(-15), ExpiresAt, null, null);

    [Fact]
    public void A_change_decided_just_before_expiry_answers_the_hold_active_as_the_batch_wrote_it()
    {
        Assert.Equal("active", ReservationResponse.AsDecided(Hold).Status);
        Assert.Equal("confirmed", ReservationResponse.AsDecided(Hold with { Status = ReservationStatus.Confirmed }).Status);
    }

    [Fact]
    public void A_read_at_or_past_expiry_shows_the_hold_expired_before_the_sweep_writes_it()
    {
        Assert.Equal("active", ReservationResponse.From(Hold, ExpiresAt.AddMilliseconds(-1)).Status);
        Assert.Equal("expired", ReservationResponse.From(Hold, ExpiresAt).Status);
    }
}

namespace Capacity.Server.Tests;

/// <summary>Names cannot hide characters that make two names look alike or reorder what a screen shows.</summary>
public sealed class NameTests : IAsyncLifetime
{
    private readonly CapacityApp _app = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData("Stalls\u200B")]
    [InlineData("\u200B\u200C\u200D")]
    [InlineData("Stalls \u202Eslla\u202C")]
    [InlineData("Circle\u2066A\u2069")]
    [InlineData("\uFEFFBalcony")]
    [InlineData("Box\u200Foffice")]
    public async Task A_name_with_a_zero_width_direction_or_bidi_character_is_refused_and_nothing_is_created(string name)
    {
        var t = (await _app.NewTenantAsync()).Client;
        var problem = await Api.ProblemAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = name, total_capacity = 5 })), 400, "VALIDATION_ERROR");
        Assert.Contains("invisible", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/events/names/capacity"), 200))["capacity"]!.AsArray());
    }

    [Fact]
    public async Task Names_in_any_script_and_with_emoji_are_kept()
    {
        var t = (await _app.NewTenantAsync()).Client;
        foreach (var name in new[] { "Parkett links", "Стоячий партер", "一階席", "VIP 🎟" })
        {
            var created = await Api.ReadAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = name, total_capacity = 5 })), 201);
            Assert.Equal(name, created["section_name"]!.GetValue<string>());
        }
    }
}

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
    [InlineData("\u061C")] // Arabic letter mark: a direction mark
    [InlineData("Stalls\u061C")]
    [InlineData("\u3164")] // Hangul filler: a letter that draws nothing
    [InlineData("\u115F\u1160")]
    [InlineData("\uFFA0")]
    [InlineData("\u2800\u2800")] // blank braille cells only
    [InlineData("Box\u034Foffice")] // combining grapheme joiner
    [InlineData("Box\u00ADoffice")] // soft hyphen
    [InlineData("VIP\uDB40\uDC41")] // tag character U+E0041
    [InlineData("Upper\u2028Circle")] // line separator
    [InlineData("Upper\u2029Circle")] // paragraph separator
    [InlineData("Box\u200Doffice")] // a zero-width joiner joins emoji only
    [InlineData("VIP \u200D🎟")]
    [InlineData("🎟\u200D")]
    [InlineData("\u200D🎟")]
    [InlineData("🎟\u200D\u200D🎟")]
    [InlineData("🎟\u200D a")]
    [InlineData("Sta\u200Clls")] // a non-joiner inside a Latin word
    [InlineData("VIP\uDB40\uDC67\uDB40\uDC62\uDB40\uDC7F")] // tags without the flag they belong to
    public async Task A_name_with_a_zero_width_direction_or_bidi_character_is_refused_and_nothing_is_created(string name)
    {
        var t = (await _app.NewTenantAsync()).Client;
        var problem = await Api.ProblemAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = name, total_capacity = 5 })), 400, "VALIDATION_ERROR");
        Assert.Contains("invisible", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await Api.ReadAsync(await t.GetAsync("/events/names/capacity"), 200))["capacity"]!.AsArray());
    }

    [Fact]
    public async Task Names_in_any_script_and_with_emoji_joined_or_not_are_kept()
    {
        var t = (await _app.NewTenantAsync()).Client;
        foreach (var name in new[] { "Parkett links", "Стоячий партер", "一階席", "VIP 🎟", "Love \u2764\uFE0F", "مقاعد", "Braille \u2800 row",
            "Family ticket 👨\u200D👩\u200D👧", "Pride night 🏳\uFE0F\u200D🌈", "Tech row 👩🏽\u200D💻",
            "England fans 🏴\uDB40\uDC67\uDB40\uDC62\uDB40\uDC65\uDB40\uDC6E\uDB40\uDC67\uDB40\uDC7F", "می\u200Cخواهم", "क्\u200Dष" })
        {
            var created = await Api.ReadAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = name, total_capacity = 5 })), 201);
            Assert.Equal(name, created["section_name"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_names_length_counts_characters_so_200_emoji_fit_and_201_do_not()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var fits = string.Concat(Enumerable.Repeat("🎟", 200));
        Assert.Equal(fits, (await Api.ReadAsync(await t.PostAsync("/events/long/capacity", Api.Json(new { section_name = fits, total_capacity = 5 })), 201))["section_name"]!.GetValue<string>());
        await Api.ProblemAsync(await t.PostAsync("/events/long/capacity", Api.Json(new { section_name = fits + "🎟", total_capacity = 5 })), 400, "VALIDATION_ERROR");
        await Api.ProblemAsync(await t.PostAsync("/events/long/capacity", Api.Json(new { section_name = new string('a', 201), total_capacity = 5 })), 400, "VALIDATION_ERROR");
        Assert.Single((await Api.ReadAsync(await t.GetAsync("/events/long/capacity"), 200))["capacity"]!.AsArray());
    }
}

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

    [Theory]
    [InlineData("Stalls\u200B", "character 7 is U+200B")]
    [InlineData("Box\u00ADoffice", "character 4 is U+00AD")]
    [InlineData("🎟🎟\u202E", "character 3 is U+202E")]
    [InlineData("VIP\uDB40\uDC41", "character 4 is U+E0041")]
    [InlineData("\u2800\u2800", "it is blank")]
    [InlineData("   ", "it is blank")]
    public async Task A_refused_names_detail_says_which_character_and_where_since_an_invisible_one_cannot_be_seen(string name, string why)
    {
        var t = (await _app.NewTenantAsync()).Client;
        var problem = await Api.ProblemAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = name, total_capacity = 5 })), 400, "VALIDATION_ERROR");
        Assert.Contains($": {why}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        // The same words wherever a name is judged: an allocation's, a hold's external_ref.
        var pool = await t.CreateCapacityAsync("names", "Pool", 5);
        var block = await Api.ProblemAsync(await t.PostAsync($"/capacity/{pool}/allocations", Api.Json(new { name, quantity = 1 })), 400, "VALIDATION_ERROR");
        Assert.Contains($": {why}", block["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var hold = await Api.ProblemAsync(await t.PostAsync($"/capacity/{pool}/reserve", Api.Json(new { quantity = 1, external_ref = name })), 400, "VALIDATION_ERROR");
        Assert.Contains($": {why}", hold["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(5, await t.AvailableAsync(pool));
    }

    [Fact]
    public async Task A_name_longer_than_its_limit_is_told_so()
    {
        var t = (await _app.NewTenantAsync()).Client;
        var problem = await Api.ProblemAsync(await t.PostAsync("/events/names/capacity", Api.Json(new { section_name = new string('a', 201), total_capacity = 5 })), 400, "VALIDATION_ERROR");
        Assert.EndsWith(": it is longer than 200 characters.", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
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

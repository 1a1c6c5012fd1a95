using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Capacity.Server.Tests;

/// <summary>
/// The Server's folders depend one way: the root (Program, Setup, AppJson) sees everything; each feature
/// folder sees only <c>Views/</c> (what several features show) and <c>Http/</c> (plumbing); <c>Views/</c>
/// sees only <c>Http/</c>; <c>Http/</c> sees no other folder. Read from the sources' <c>using</c> lines and
/// from the names of the root's types, which every folder could reach without a <c>using</c>.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>Each folder with the folders it may import; every other folder is a feature.</summary>
    private static readonly Dictionary<string, string[]> Lower = new(StringComparer.Ordinal)
    {
        ["Http"] = [],
        ["Views"] = ["Http"],
    };

    private static readonly string[] FeatureMayImport = ["Http", "Views"];

    [Fact]
    public void No_folder_imports_a_feature_folder_or_a_folder_above_it()
    {
        var violations = new List<string>();
        foreach (var file in ServerSources().Where(f => Folder(f) is not null))
        {
            var folder = Folder(file)!;
            var allowed = Lower.TryGetValue(folder, out var lower) ? lower : FeatureMayImport;
            foreach (Match m in ServerUsing().Matches(File.ReadAllText(file)))
            {
                var imported = m.Groups[1].Value.Split('.')[0];
                if (imported != folder && !allowed.Contains(imported))
                {
                    violations.Add($"{Relative(file)} imports Capacity.Server.{m.Groups[1].Value}");
                }
            }
        }

        Assert.Empty(violations);
    }

    [Fact]
    public void Only_the_root_names_the_root_types()
    {
        var violations = ServerSources()
            .Where(f => Folder(f) is not null)
            .SelectMany(f => File.ReadLines(f)
                .Where(line => !line.TrimStart().StartsWith("//", StringComparison.Ordinal) && RootType().IsMatch(line))
                .Select(line => $"{Relative(f)}: {line.Trim()}"))
            .ToList();

        Assert.Empty(violations);
    }

    private static string ServerRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "src", "Capacity.Server"));

    private static IEnumerable<string> ServerSources()
    {
        var root = ServerRoot();
        Assert.True(File.Exists(Path.Combine(root, "Program.cs")), $"The Server's sources are not at {root}.");
        return Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Relative(f).StartsWith("obj/", StringComparison.Ordinal) && !Relative(f).StartsWith("bin/", StringComparison.Ordinal));
    }

    private static string Relative(string file) => Path.GetRelativePath(ServerRoot(), file).Replace('\\', '/');

    /// <summary>The top folder of a file, or null for the root's files.</summary>
    private static string? Folder(string file) => Relative(file).Split('/') is [var top, _, ..] ? top : null;

    [GeneratedRegex(@"^using Capacity\.Server\.([A-Za-z.]+);", RegexOptions.Multiline)]
    private static partial Regex ServerUsing();

    [GeneratedRegex(@"\b(AppJson|Setup)\.")]
    private static partial Regex RootType();
}

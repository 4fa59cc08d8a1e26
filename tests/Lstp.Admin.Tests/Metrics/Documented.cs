using System.Text.RegularExpressions;
using Lstp.Testing;
using Xunit;

namespace Lstp.Admin.Tests.Metrics;

/// <summary>The metric tables of docs/observability.md, so the tests hold the documentation and the endpoints to each other.</summary>
public static partial class Documented
{
    /// <summary>The Prometheus names in the table under <paramref name="heading"/> ("A middle", "An end"), with their types.</summary>
    public static IReadOnlyDictionary<string, string> Metrics(string heading)
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, "docs", "observability.md"));
        var start = text.IndexOf($"\n## {heading}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/observability.md has no section {heading}");
        var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = text[start..(end < 0 ? text.Length : end)];
        return Row().Matches(section).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value);
    }

    /// <summary>
    /// Every documented name of <paramref name="heading"/> is in <paramref name="scrape"/> (a histogram by its
    /// _bucket series), but those in <paramref name="absent"/>; and every lstp_ series in it is documented.
    /// </summary>
    public static void AssertMatches(Scrape scrape, string heading, params string[] absent)
    {
        var documented = Metrics(heading);
        Assert.NotEmpty(documented);
        foreach (var (name, type) in documented.Where(d => !absent.Contains(d.Key)))
        {
            var series = type == "histogram" ? name + "_bucket" : name;
            Assert.True(scrape.Names.Contains(series), $"{series} (docs/observability.md, {heading}) is not in /metrics");
        }
        foreach (var name in scrape.Names.Where(n => n.StartsWith("lstp_", StringComparison.Ordinal)))
        {
            var family = HistogramSuffix().Replace(name, "");
            Assert.True(documented.ContainsKey(name) || documented.GetValueOrDefault(family) == "histogram", $"{name} is exported but not in docs/observability.md ({heading})");
        }
    }

    [GeneratedRegex(@"^\| `(?<name>lstp_[a-z_]+)` \| (?<type>counter|gauge|histogram) \|", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}

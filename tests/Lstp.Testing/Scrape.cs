using System.Globalization;
using System.Text.RegularExpressions;

namespace Lstp.Testing;

/// <summary>
/// One Prometheus text-format answer of a /metrics endpoint, parsed into samples, so a test reads a series by its name
/// and labels (<c>lstp_links_refused_total{reason="RateLimited"}</c>) whatever order or other labels the exporter writes.
/// </summary>
public sealed partial class Scrape
{
    private readonly List<Sample> _samples = [];

    public Scrape(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var match = SampleLine().Match(line);
            if (!match.Success) throw new FormatException($"not a sample line: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
            _samples.Add(new Sample(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>The answer as it came.</summary>
    public string Text { get; }

    public IReadOnlyList<Sample> Samples => _samples;

    /// <summary>The names of every series present.</summary>
    public IReadOnlySet<string> Names => _samples.Select(s => s.Name).ToHashSet();

    public static async Task<Scrape> GetAsync(HttpClient http, string url) => new(await http.GetStringAsync(url));

    /// <summary>The value of the one series named <paramref name="name"/> with these labels (others ignored); null when absent.</summary>
    public double? Value(string name, params (string Label, string Value)[] labels)
    {
        var matching = _samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).ToList();
        if (matching.Count > 1) throw new InvalidOperationException($"{name} with {string.Join(",", labels)} matches {matching.Count} series");
        return matching.Count == 0 ? null : matching[0].Value;
    }

    /// <summary>The sum of every series named <paramref name="name"/> with these labels (0 when none).</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).Sum(s => s.Value);

    /// <summary>One sample: a series and its value.</summary>
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}

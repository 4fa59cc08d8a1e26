using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace Lstp.Admin.Tests.Metrics;

/// <summary>
/// deploy/grafana/lstp.json, the Grafana dashboard over a node's metrics: its rows, and every series its queries name is
/// one docs/observability.md documents (which the metrics tests hold to what the nodes export).
/// </summary>
public sealed partial class DashboardJsonTests
{
    [Fact]
    public void The_dashboard_covers_traffic_pairings_latency_errors_and_the_cluster_with_documented_metrics_only()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "deploy", "grafana", "lstp.json")));
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.Superset(new HashSet<string> { "Traffic", "Pairings", "Latency", "Errors", "Cluster" },
            panels.Where(p => p.GetProperty("type").GetString() == "row").Select(p => p.GetProperty("title").GetString()!).ToHashSet());
        Assert.Equal("datasource", dashboard.RootElement.GetProperty("templating").GetProperty("list")[0].GetProperty("name").GetString());

        var docs = File.ReadAllText(Path.Combine(Repository.Root, "docs", "observability.md"));
        var documented = Documented.Metrics("A middle").Concat(Documented.Metrics("An end")).ToDictionary();
        var used = new HashSet<string>();
        foreach (var panel in panels.Where(p => p.GetProperty("type").GetString() != "row"))
        {
            var title = panel.GetProperty("title").GetString();
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            foreach (var expr in targets.Select(t => t.GetProperty("expr").GetString()!))
            {
                foreach (var name in Series().Matches(expr).Select(m => m.Value))
                {
                    used.Add(name);
                    var family = HistogramBucket().Replace(name, "");
                    if (name.StartsWith("lstp_", StringComparison.Ordinal))
                    {
                        Assert.True(documented.ContainsKey(name) || documented.GetValueOrDefault(family) == "histogram", $"panel '{title}' queries {name}, which docs/observability.md does not list");
                    }
                    else
                    {
                        Assert.True(docs.Contains($"`{name}`", StringComparison.Ordinal), $"panel '{title}' queries {name}, which docs/observability.md does not name");
                    }
                }
            }
        }
        // Every metric of ours is on the dashboard somewhere.
        foreach (var (name, type) in documented)
        {
            Assert.True(used.Contains(type == "histogram" ? name + "_bucket" : name), $"{name} is on no panel of the dashboard");
        }
    }

    [GeneratedRegex(@"\b(lstp|process|dotnet)_[a-z_]+")]
    private static partial Regex Series();

    [GeneratedRegex("_bucket$")]
    private static partial Regex HistogramBucket();
}

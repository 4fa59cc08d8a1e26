using System.Globalization;
using System.Text;
using Lstp.Middle;

namespace Lstp.Admin;

/// <summary>Renders the middle's counters in the Prometheus text exposition format (version 0.0.4).</summary>
public static class PrometheusText
{
    public static string Render(MiddleNode node)
    {
        var tunnels = node.Tunnels.Snapshot();
        var text = new StringBuilder();
        Gauge(text, "lstp_tunnels", "Paired tunnels relayed by this middle.", tunnels.Count);
        Gauge(text, "lstp_waiting_ends", "Ends registered and waiting for their peer.", node.Registry.Snapshot().Count);
        Gauge(text, "lstp_channels", "Channels open, as the ends report them.", tunnels.Sum(t => (long)t.ReportedChannels));
        Counter(text, "lstp_connections_total", "Links accepted.", node.Metrics.Connections);
        Counter(text, "lstp_pairings_total", "Pairings made.", node.Metrics.Pairings);
        text.Append("# HELP lstp_relayed_bytes_total Relay payload bytes forwarded, by direction.\n# TYPE lstp_relayed_bytes_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"lstp_relayed_bytes_total{{direction=\"first_to_second\"}} {tunnels.Sum(t => Interlocked.Read(ref t.First.BytesIn))}\n");
        text.Append(CultureInfo.InvariantCulture, $"lstp_relayed_bytes_total{{direction=\"second_to_first\"}} {tunnels.Sum(t => Interlocked.Read(ref t.Second.BytesIn))}\n");
        Counter(text, "lstp_bytes_relayed_total", "All relay payload bytes forwarded since start.", node.Metrics.BytesRelayed);
        text.Append("# HELP lstp_errors_total Errors sent to ends, by code.\n# TYPE lstp_errors_total counter\n");
        foreach (var (code, count) in node.Metrics.Errors.OrderBy(e => e.Key))
        {
            text.Append(CultureInfo.InvariantCulture, $"lstp_errors_total{{code=\"{code}\"}} {count}\n");
        }
        return text.ToString();
    }

    private static void Gauge(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");

    private static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
}

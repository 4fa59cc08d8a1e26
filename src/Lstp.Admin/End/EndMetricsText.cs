using System.Globalization;
using System.Text;
using Lstp.EndProxy;
using Lstp.EndProxy.Connect;

namespace Lstp.Admin.End;

/// <summary>An end proxy's figures in the Prometheus text exposition format (version 0.0.4).</summary>
public static class EndMetricsText
{
    public static string Render(EndProxyHost host)
    {
        var state = host.Supervisor.State;
        var tunnel = host.Supervisor.Current;
        var counters = tunnel?.Counters;
        var text = new StringBuilder();
        Metric(text, "lstp_end_tunnel_open", "gauge", "1 while this end's tunnel is open.", state.Phase == TunnelPhase.Open ? 1 : 0);
        text.Append("# HELP lstp_end_phase Where this end is in the setup sequence (1 for the current phase).\n# TYPE lstp_end_phase gauge\n");
        foreach (var phase in Enum.GetValues<TunnelPhase>())
        {
            text.Append(CultureInfo.InvariantCulture, $"lstp_end_phase{{phase=\"{phase.ToString().ToLowerInvariant()}\"}} {(phase == state.Phase ? 1 : 0)}\n");
        }
        Metric(text, "lstp_end_channels", "gauge", "Channels open on the current tunnel.", counters?.ChannelsOpen ?? 0);
        Metric(text, "lstp_end_channels_opened_total", "counter", "Channels opened on the current tunnel.", counters?.ChannelsOpened ?? 0);
        Metric(text, "lstp_end_sent_bytes_total", "counter", "Application bytes sent to the peer on the current tunnel.", counters?.BytesSent ?? 0);
        Metric(text, "lstp_end_received_bytes_total", "counter", "Application bytes received from the peer on the current tunnel.", counters?.BytesReceived ?? 0);
        Metric(text, "lstp_end_reconnects_total", "counter", "Times this end's tunnel went down and it reconnected.", state.Reconnects);
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}

using System.Diagnostics;

namespace Lstp.Transport.Telemetry;

/// <summary>
/// The names every node's telemetry shares: its meters, its activity source, and the histogram buckets for durations
/// (docs/observability.md lists every instrument). OpenTelemetry's Prometheus exporter turns <c>lstp.tunnels</c> into
/// <c>lstp_tunnels</c>, adds the unit (<c>_bytes</c>, <c>_seconds</c>) and <c>_total</c> to counters.
/// </summary>
public static class TelemetryNames
{
    /// <summary>A middle's instruments; one meter of this name per middle, so several middles in one process stay apart.</summary>
    public const string MiddleMeter = "Lstp.Middle";

    /// <summary>An end's instruments; one meter of this name per end.</summary>
    public const string EndMeter = "Lstp.End";

    /// <summary>The spans of a tunnel's setup and of each channel's opening.</summary>
    public const string Source = "Lstp";

    /// <summary>Where every span of ours starts (Lstp.Tunnel's SetupTrace says how they nest).</summary>
    public static readonly ActivitySource Spans = new(Source);

    /// <summary>One tunnel setup, from the dial to the end-to-end handshake's last step; the steps below are its children.</summary>
    public const string Setup = "lstp.tunnel.setup";

    /// <summary>Reaching the middle: TCP, each proxy hop, TLS to the middle when asked.</summary>
    public const string Dial = "lstp.dial";

    /// <summary>Through one corporate proxy: connecting to it and its SOCKS5 or HTTP CONNECT handshake.</summary>
    public const string ProxyHop = "lstp.proxy_hop";

    /// <summary>The setup frames out, until the middle says WAITING or delivers the peer's setup.</summary>
    public const string Register = "lstp.register";

    /// <summary>Waiting at the middle for the peer end (only when it was not there already).</summary>
    public const string Pair = "lstp.pair";

    /// <summary>The end-to-end TLS 1.3 handshake through the middle (not with --plaintext).</summary>
    public const string Tls = "lstp.tls";

    /// <summary>AUTH_PROOF both ways, the setup check, PROPERTY_EXCHANGE.</summary>
    public const string Authenticate = "lstp.authenticate";

    /// <summary>One channel, from the entry point's request to the peer's SERVICE_BEGIN_ACK or refusal.</summary>
    public const string ChannelOpen = "lstp.channel.open";

    /// <summary>
    /// Seconds, for latencies that run from a loopback round trip (under a millisecond) to a wait for the peer or a
    /// backoff capped at 30 s (minutes, with a slow proxy on the way). OpenTelemetry's default buckets are for
    /// milliseconds (0 to 10,000) and would put every setup in the first two.
    /// </summary>
    public static readonly IReadOnlyList<double> DurationBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
}

using Lstp.Transport;

namespace Lstp.Middle;

/// <summary>Everything a middle is configured with (flags, JSON config and LSTP__ environment variables bind here).</summary>
public sealed record MiddleOptions
{
    public HostPort Listen { get; init; } = new("0.0.0.0", 7700);

    /// <summary>This node's name in TOPOLOGY_EXCHANGE.</summary>
    public string Name { get; init; } = "middle-" + Environment.MachineName.ToLowerInvariant();

    /// <summary>Health, metrics, JSON API; loopback by default so nothing is exposed unless asked.</summary>
    public HostPort? Admin { get; init; } = new("127.0.0.1", 7780);

    /// <summary>
    /// Where ends and other middles reach this middle's listener (--public), shown in TOPOLOGY_EXCHANGE and REDIRECT;
    /// defaults to the listen address. Not the cluster endpoint (that is ClusterOptions.Advertise).
    /// </summary>
    public string? PublicAddress { get; init; }

    /// <summary>Public ports ends may ask this middle to open (--publish-range LOW-HIGH); none by default.</summary>
    public PortRange? PublishRange { get; init; }

    /// <summary>
    /// How long a published port stays its owner's after the owner's control link closes: long enough for an agent
    /// to reconnect (its backoff tops out at 30 s) before any other end may publish that port.
    /// </summary>
    public TimeSpan PublishHold { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Cascade: hand every end to this middle instead of pairing here (docs/architecture.md).</summary>
    public HostPort? Upstream { get; init; }

    /// <summary>
    /// TLS to the upstream middle (--upstream-fingerprint, --upstream-ca, --upstream-tls): how its certificate is
    /// checked. Null: the hop is plain TCP (the tunnel inside is end-to-end encrypted either way).
    /// </summary>
    public Lstp.Transport.Dialing.MiddleTrust? UpstreamTrust { get; init; }

    /// <summary>
    /// TLS to another node of this middle's cluster, by its link address: the node's certificate pinned by the
    /// fingerprint it announced inside the cluster; null (or a null answer) for plain TCP.
    /// </summary>
    public Func<HostPort, Lstp.Transport.Dialing.MiddleTrust?>? NodeTrust { get; init; }

    /// <summary>Token this middle presents to its upstream (or to other nodes) in ADMISSION.</summary>
    public string? UpstreamToken { get; init; }

    /// <summary>Tokens accepted in ADMISSION on Node links only (a cluster's shared secret); never valid for an end.</summary>
    public IReadOnlyList<string> NodeTokens { get; init; } = [];

    /// <summary>Admission tokens; empty means an open middle.</summary>
    public IReadOnlyList<string> Tokens { get; init; } = [];

    /// <summary>How long a first end waits for its peer before it is told WaitExpired.</summary>
    public TimeSpan WaitExpiry { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A connection that has not finished its setup in this time is closed (slowloris defence).</summary>
    public TimeSpan SetupDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A link with no inbound byte for this long is dead (ends PING every 10 s).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>Ends one source address may have waiting at once.</summary>
    public int MaxWaitingPerSource { get; init; } = 64;

    /// <summary>
    /// End links (tunnels and published ports' control links) one source address may hold open at once, waiting or
    /// paired. A corporate NAT puts many ends behind one address: 1,024 of them still fit.
    /// </summary>
    public int MaxLinksPerSource { get; init; } = 1024;

    /// <summary>Links of every kind this middle holds open at once: 100,000 is about 4 GiB and as many descriptors.</summary>
    public int MaxLinks { get; init; } = 100_000;

    /// <summary>New connections per second one source address may open (token bucket, burst of the same size).</summary>
    public int MaxConnectionsPerSecondPerSource { get; init; } = 50;

    /// <summary>Largest RELAY frame accepted (ends send at most 256 KiB); larger ones are refused with FrameTooLarge.</summary>
    public int MaxFramePayload { get; init; } = Lstp.Protocol.ProtocolLimits.DefaultMaxPayload;

    /// <summary>PEM certificate and key for TLS on the link listener (optional; the ends' traffic is end-to-end encrypted anyway).</summary>
    public string? TlsCertificate { get; init; }
    public string? TlsKey { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>An OTLP/HTTP collector (--otlp URL) that receives this middle's metrics; null: none.</summary>
    public Uri? Otlp { get; init; }

    /// <summary>
    /// The link addresses of the cluster's live middles, sent to each end in MIDDLE_MEMBERS so it can fail over to
    /// any of them; null for a lone middle (nothing is sent).
    /// </summary>
    public Func<IReadOnlyList<string>>? Members { get; init; }

    /// <summary>The cluster's figures for this middle's metrics (members, unreachable ones, shards); null for a lone middle.</summary>
    public Func<Telemetry.ClusterFigures>? Cluster { get; init; }

    /// <summary>Makes the pairing registry: null means the embedded in-memory one; a cluster supplies its shared one.</summary>
    public Func<MiddleOptions, Microsoft.Extensions.Logging.ILoggerFactory, Pairing.IPairingRegistry>? RegistryFactory { get; init; }

    /// <summary>The actor system's own settings from the config file's <c>akka</c> section, over the embedded defaults; null: the defaults.</summary>
    public Akka.Configuration.Config? ActorConfig { get; init; }

}

/// <summary>An inclusive range of TCP ports.</summary>
public readonly record struct PortRange(int Low, int High)
{
    public static PortRange Parse(string text)
    {
        var parts = text.Split('-', 2);
        if (parts.Length == 2 && int.TryParse(parts[0], out var low) && int.TryParse(parts[1], out var high) && low is > 0 and <= 65535 && high >= low && high <= 65535)
        {
            return new PortRange(low, high);
        }
        throw new FormatException($"--publish-range '{text}': expected LOW-HIGH, e.g. 20000-20099");
    }

    public override string ToString() => $"{Low}-{High}";
}

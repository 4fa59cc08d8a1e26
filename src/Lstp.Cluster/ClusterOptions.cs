using Lstp.Transport;

namespace Lstp.Cluster;

/// <summary>
/// How a middle joins a cluster of middles (`lstp middle --cluster SEEDS --advertise HOST:PORT --cluster-cert FILE`):
/// the Akka.Cluster endpoints it joins through and announces, the certificate every node shares, and the timings
/// of failure detection, pairing and drain.
/// </summary>
public sealed record ClusterOptions
{
    /// <summary>This node's cluster endpoint: bound, and announced to the other nodes (--advertise).</summary>
    public required HostPort Advertise { get; init; }

    /// <summary>
    /// Seed nodes: cluster endpoints of middles already in the cluster, or this one's (--cluster). The first seed
    /// that answers lets this node in; a node that is itself the first seed starts the cluster when none answers.
    /// </summary>
    public IReadOnlyList<HostPort> Seeds { get; init; } = [];

    /// <summary>
    /// PKCS#12 file every node holds (`lstp cluster-cert FILE`): cluster traffic runs over mutual TLS pinned to it,
    /// so a node without it can neither join nor send. Required unless <see cref="Advertise"/> is on loopback.
    /// </summary>
    public string? CertificateFile { get; init; }

    /// <summary>How long a starting node tries to join through its seeds before it gives up (exit 1).</summary>
    public TimeSpan JoinTimeout { get; init; } = ClusterTimings.JoinTimeout;

    /// <summary>How long a registration waits for the pairing key's entity before the end waits at this node alone.</summary>
    public TimeSpan RegisterTimeout { get; init; } = ClusterTimings.RegisterTimeout;

    /// <summary>How long one ask of the pairing key's entity waits before it is sent again.</summary>
    public TimeSpan RegisterRetry { get; init; } = ClusterTimings.RegisterRetry;

    /// <summary>How long an end another node claimed may wait for that node's link before it is told to register again.</summary>
    public TimeSpan ClaimTimeout { get; init; } = ClusterTimings.ClaimTimeout;

    /// <summary>How often ends that wait at this node alone are offered to the cluster's registry again.</summary>
    public TimeSpan RetryLocal { get; init; } = ClusterTimings.RetryLocal;

    /// <summary>On SIGTERM, how long tunnels with open channels keep running before the node closes them.</summary>
    public TimeSpan DrainGrace { get; init; } = ClusterTimings.DrainGrace;

    /// <summary>A node silent for this long (no heartbeat) is unreachable (Akka's acceptable-heartbeat-pause).</summary>
    public TimeSpan AcceptableHeartbeatPause { get; init; } = ClusterTimings.AcceptableHeartbeatPause;

    /// <summary>How long the membership must be stable before the Split Brain Resolver downs the unreachable (stable-after).</summary>
    public TimeSpan StableAfter { get; init; } = ClusterTimings.StableAfter;
}

/// <summary>The cluster's default timings, with the reason for each value.</summary>
public static class ClusterTimings
{
    /// <summary>Long enough for the seeds of a cluster started together (docker compose) to come up.</summary>
    public static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A pairing key's entity answers in a millisecond; it is silent only while its node is dead and not yet downed,
    /// and the cluster has moved its shard (about 12 s after a kill -9 on 2 cores). The registration is buffered
    /// meanwhile and answered then; only past this long does the end wait here alone, to be offered again.
    /// </summary>
    public static readonly TimeSpan RegisterTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// An entity answers in milliseconds even on a busy node; a message sent to a node that died a moment ago is lost
    /// until the cluster marks it unreachable (about 2.5 s), so asking again every second finds the new home soon after.
    /// </summary>
    public static readonly TimeSpan RegisterRetry = TimeSpan.FromSeconds(1);

    /// <summary>A claiming node links in within one dial and one setup (milliseconds); the setup deadline is 10 s.</summary>
    public static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Often enough that an end waiting alone finds its peer within seconds of the registry returning.</summary>
    public static readonly TimeSpan RetryLocal = TimeSpan.FromSeconds(2);

    /// <summary>
    /// `lstp` gives its command 10 s after SIGTERM (Program.cs ProcessTerminationTimeout): 5 s of grace leaves time to
    /// leave the cluster, redirect ends and stop the listeners.
    /// </summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Heartbeats go every 500 ms; 1.5 s of silence is three missed ones, still more than a full GC pause on a busy
    /// node. With <see cref="StableAfter"/> a killed node is downed about 4 s after it died and its shards answer again
    /// about 3 s later: measured on 2 cores (FailoverTests, 300 tunnels over 3 nodes, kill -9 of one), every end paired
    /// again within 7.4–8.7 s (p99). At 2 s and 3 s the same run gave 10.4–10.7 s.
    /// </summary>
    public static readonly TimeSpan AcceptableHeartbeatPause = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// Long enough that a node that only hiccupped comes back before it is downed (Akka's default is 20 s, sized for
    /// large clusters whose members may be far apart; a few middles that share ends decide faster).
    /// </summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(2);
}

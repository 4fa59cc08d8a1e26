namespace Lstp.Cluster;

/// <summary>
/// How a middle joins a cluster (`lstp middle --cluster CONNSTRING`): the shared PostgreSQL database, the
/// secret nodes authenticate each other's links with, and the timings of membership, failure and drain.
/// </summary>
public sealed record ClusterOptions
{
    /// <summary>The Npgsql connection string of the database every node of the cluster names (never logged).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>
    /// The secret nodes present in ADMISSION on inter-node links. Null: the one stored in the database, created
    /// with the schema. Give it to every node or to none.
    /// </summary>
    public string? Secret { get; init; }

    /// <summary>How often a node says it is alive.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = ClusterTimings.HeartbeatInterval;

    /// <summary>A node whose last heartbeat is older than this is dead: any live node deletes it and its waiting ends.</summary>
    public TimeSpan DeadAfter { get; init; } = ClusterTimings.DeadAfter;

    /// <summary>While the database is unreachable, how long an end waits for a peer at this node before it is told why none comes.</summary>
    public TimeSpan OfflineWait { get; init; } = ClusterTimings.OfflineWait;

    /// <summary>How long an end another node claimed may wait for that node's link before it is told to register again.</summary>
    public TimeSpan ClaimTimeout { get; init; } = ClusterTimings.ClaimTimeout;

    /// <summary>On SIGTERM, how long tunnels with open channels keep running before the node closes them.</summary>
    public TimeSpan DrainGrace { get; init; } = ClusterTimings.DrainGrace;

    /// <summary>How long a starting node keeps trying to reach the database before it gives up.</summary>
    public TimeSpan StartupTimeout { get; init; } = ClusterTimings.StartupTimeout;
}

/// <summary>The cluster's default timings, with the reason for each value.</summary>
public static class ClusterTimings
{
    /// <summary>Often enough that death is noticed in seconds; one tiny UPDATE per node, cheap for the database.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);

    /// <summary>Five missed heartbeats: a GC pause or a slow database does not evict a live node.</summary>
    public static readonly TimeSpan DeadAfter = TimeSpan.FromSeconds(10);

    /// <summary>Long enough for a peer on this node to arrive; short enough that the end moves on quickly (an end's first backoff is 0.25 s).</summary>
    public static readonly TimeSpan OfflineWait = TimeSpan.FromSeconds(5);

    /// <summary>A claiming node links in within one dial and one setup (milliseconds); the setup deadline is 10 s.</summary>
    public static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// `lstp` gives its command 10 s after SIGTERM (Program.cs ProcessTerminationTimeout): 5 s of grace leaves time to
    /// leave the cluster, redirect ends and stop the listeners.
    /// </summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    /// <summary>Long enough for a database container started alongside to accept connections.</summary>
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A registration must not hang on an unreachable database: connect within 3 s (Npgsql's default is 15 s).</summary>
    public const int ConnectTimeoutSeconds = 3;

    /// <summary>Every statement is small and indexed; 5 s means the database is in trouble (Npgsql's default is 30 s).</summary>
    public const int CommandTimeoutSeconds = 5;

    /// <summary>Registrations run concurrently, each holding a connection for two round trips; 30 serve thousands per second.</summary>
    public const int MaxPoolSize = 30;

    /// <summary>TCP keepalive on the LISTEN connection, so a database that vanished without a FIN is noticed.</summary>
    public const int KeepaliveSeconds = 5;
}

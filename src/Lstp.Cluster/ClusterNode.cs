using Lstp.Cluster.Drain;
using Lstp.Cluster.Membership;
using Lstp.Cluster.Pairing;
using Lstp.Cluster.Store;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster;

/// <summary>
/// A middle's membership of a cluster, from joining to draining: the database, this node's heartbeats, and
/// the shared pairing registry it hands the middle through <see cref="MiddleOptions.RegistryFactory"/>.
/// Made by <see cref="ClusterSetup.JoinAsync"/>; dispose it after the middle host (it leaves the cluster).
/// </summary>
public sealed partial class ClusterNode : IAsyncDisposable
{
    private readonly ClusterOptions _cluster;
    private readonly ILogger _log;

    internal ClusterNode(ClusterOptions cluster, MiddleOptions middle, ClusterDatabase database, ClusterMembership membership, string secret, ILogger log)
    {
        _cluster = cluster;
        Database = database;
        Membership = membership;
        _log = log;
        Options = middle with
        {
            Advertise = membership.Advertise,
            // Inter-node links present the cluster secret, which is accepted on node links only: an end that
            // learned it still could not use it, and an open middle stays open to ends.
            UpstreamToken = secret,
            NodeTokens = [secret],
            RegistryFactory = CreateRegistry,
        };
    }

    /// <summary>The middle's options with the cluster wired in: give these to <c>MiddleHost.StartAsync</c>.</summary>
    public MiddleOptions Options { get; }

    public ClusterDatabase Database { get; }

    public ClusterMembership Membership { get; }

    /// <summary>The shared registry, once the middle host has made it.</summary>
    public PgPairingRegistry? Registry { get; private set; }

    private IPairingRegistry CreateRegistry(MiddleOptions options, ILoggerFactory loggers)
    {
        if (Registry is not null) throw new InvalidOperationException("a cluster node serves one middle");
        return Registry = new PgPairingRegistry(options, _cluster, Database, Membership, loggers.CreateLogger("Lstp.Cluster.Pairing"));
    }

    /// <summary>
    /// SIGTERM: stop pairing here and send waiting ends to other live nodes, leave the cluster so no node hands
    /// an end here any more, let tunnels with open channels run for the grace period while the others are told
    /// to move, then close what is left. Returns when the node can stop.
    /// </summary>
    public async Task DrainAsync(MiddleNode node, CancellationToken cancellationToken = default)
    {
        Log.Draining(_log, Membership.Name, _cluster.DrainGrace.TotalSeconds);
        using (var refresh = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            refresh.CancelAfter(TimeSpan.FromSeconds(2));
            try { await Membership.RefreshAsync(refresh.Token).ConfigureAwait(false); }
            catch (Exception ex) when (ex is ClusterUnavailableException or OperationCanceledException) { } // the last list it read will do
        }
        var targets = new RedirectTargets(Membership.Others);
        if (!targets.Any) Log.NowhereToGo(_log);
        if (Registry is { } registry) await registry.BeginDrainAsync(targets.ForEnd).ConfigureAwait(false);
        using (var leave = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            leave.CancelAfter(TimeSpan.FromSeconds(2));
            await Membership.LeaveAsync(leave.Token).ConfigureAwait(false);
        }
        await NodeDrain.RunAsync(node, targets, _cluster.DrainGrace, _log, cancellationToken).ConfigureAwait(false);
        Log.Drained(_log, Membership.Name);
    }

    /// <summary>Stops heartbeats and notifications without leaving: to the other nodes this node has crashed.</summary>
    public Task AbandonAsync() => Membership.AbandonAsync();

    public async ValueTask DisposeAsync()
    {
        await Membership.DisposeAsync().ConfigureAwait(false);
        await Database.DisposeAsync().ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 630, Level = LogLevel.Information, Message = "draining {Name}: waiting ends move now, tunnels with open channels get {Grace:0} s")]
        public static partial void Draining(ILogger logger, string name, double grace);

        [LoggerMessage(EventId = 632, Level = LogLevel.Warning, Message = "draining: no other node of the cluster is alive; ends are disconnected without a REDIRECT")]
        public static partial void NowhereToGo(ILogger logger);

        [LoggerMessage(EventId = 633, Level = LogLevel.Information, Message = "{Name} drained")]
        public static partial void Drained(ILogger logger, string name);
    }
}

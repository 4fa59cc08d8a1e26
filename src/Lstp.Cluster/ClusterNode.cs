using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Lstp.Cluster.Drain;
using Lstp.Cluster.Membership;
using Lstp.Cluster.Pairing;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Middle.Telemetry;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster;

/// <summary>
/// A middle's membership of a cluster, from joining to draining: the node's actor system (remoting, cluster,
/// sharding), the member list, and the sharded pairing registry it hands the middle through
/// <see cref="MiddleOptions.RegistryFactory"/>. Made by <see cref="ClusterSetup.JoinAsync"/>; give <see cref="System"/>
/// to the middle host, and dispose this after the host (it leaves the cluster).
/// </summary>
public sealed partial class ClusterNode : IAsyncDisposable
{
    private readonly ClusterOptions _cluster;
    private readonly IActorRef _region;
    private readonly X509Certificate2? _certificate;
    private readonly ILogger _log;

    internal ClusterNode(ClusterOptions cluster, MiddleOptions middle, ActorSystem system, IActorRef region, ClusterMembers members, NodeInfo self, HostPort link, X509Certificate2? certificate, ILogger log)
    {
        _cluster = cluster;
        _region = region;
        _certificate = certificate;
        _log = log;
        System = system;
        Members = members;
        Self = self;
        Options = middle with
        {
            PublicAddress = link.ToString(),
            // Node links present this node's token; a node link is admitted with the token of any member. An end
            // never learns one (they travel only inside the cluster), and an open middle stays open to ends.
            UpstreamToken = self.Token,
            NodeTokens = members.Tokens,
            Members = () => [.. members.All.Where(m => m.Serves).Select(m => m.Info!.Link)],
            // A node whose link listener has TLS announced its certificate's fingerprint: dial it with TLS, pinned.
            NodeTrust = target => members.All.FirstOrDefault(m => m.Info?.Link == target.ToString())?.Info?.LinkFingerprint is { } pin ? new MiddleTrust(pin) : null,
            RegistryFactory = CreateRegistry,
            Cluster = Figures,
        };
        _shards = Task.Run(() => CountShardsAsync(_stopping.Token));
    }

    /// <summary>How often the shards per member are counted for the metrics: a cluster-wide question, so not at every scrape.</summary>
    private static readonly TimeSpan ShardCountPeriod = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _shards;
    private volatile IReadOnlyDictionary<string, int> _shardCounts = new Dictionary<string, int>();

    /// <summary>The cluster as this node sees it now, for the middle's metrics.</summary>
    private ClusterFigures Figures()
    {
        var members = Members.All;
        return new ClusterFigures(
            members.GroupBy(m => m.Status.ToString().ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count()),
            members.Count(m => !m.Reachable),
            _shardCounts);
    }

    /// <summary>Asks the sharding, every <see cref="ShardCountPeriod"/>, how many pairing shards each member hosts.</summary>
    private async Task CountShardsAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ShardCountPeriod);
        do
        {
            try
            {
                var stats = await _region.Ask<Akka.Cluster.Sharding.ClusterShardingStats>(
                    new Akka.Cluster.Sharding.GetClusterShardingStats(ShardCountPeriod), ShardCountPeriod, stopping).ConfigureAwait(false);
                var names = Members.All.Where(m => m.Info is not null).ToDictionary(m => m.Address, m => m.Info!.Name);
                _shardCounts = stats.Regions.ToDictionary(r => names.GetValueOrDefault(r.Key, r.Key.ToString()), r => r.Value.Stats.Count);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                // A member that does not answer in time (joining, dying): the last counts stand until the next round.
            }
        }
        while (await WaitAsync(timer, stopping).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task StopCountingAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try { await _shards.ConfigureAwait(false); } catch (OperationCanceledException) { }
    }

    /// <summary>The middle's options with the cluster wired in: give these to <c>MiddleHost.StartAsync</c>.</summary>
    public MiddleOptions Options { get; }

    /// <summary>The node's actor system; the middle host runs its actors in it.</summary>
    public ActorSystem System { get; }

    public ClusterMembers Members { get; }

    /// <summary>What this node tells the others about itself.</summary>
    public NodeInfo Self { get; }

    /// <summary>This node's address in the cluster.</summary>
    public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;

    /// <summary>The shared registry, once the middle host has made it.</summary>
    public ShardedPairingRegistry? Registry { get; private set; }

    private IPairingRegistry CreateRegistry(MiddleOptions options, ILoggerFactory loggers)
    {
        if (Registry is not null) throw new InvalidOperationException("a cluster node serves one middle");
        return Registry = new ShardedPairingRegistry(options, _cluster, System, _region, Members, Self.Link, loggers.CreateLogger("Lstp.Cluster.Pairing"));
    }

    /// <summary>
    /// SIGTERM: stop pairing here and send waiting ends to other live nodes, leave the cluster (coordinated shutdown
    /// hands this node's shards over), let tunnels with open channels run for the grace period while the others are
    /// told to move, then close what is left. Returns when the node can stop.
    /// </summary>
    public async Task DrainAsync(MiddleNode node, CancellationToken cancellationToken = default)
    {
        Log.Draining(_log, Self.Name, _cluster.DrainGrace.TotalSeconds);
        var targets = new RedirectTargets([.. Members.Others.Select(m => m.Info!.Link)]);
        if (!targets.Any) Log.NowhereToGo(_log);
        if (Registry is { } registry) await registry.BeginDrainAsync(targets.ForEnd).ConfigureAwait(false);
        var leaving = LeaveAsync();
        await NodeDrain.RunAsync(node, targets, _cluster.DrainGrace, _log, cancellationToken).ConfigureAwait(false);
        await leaving.ConfigureAwait(false);
        Log.Drained(_log, Self.Name);
    }

    /// <summary>
    /// Leaves the cluster gracefully: shards hand over, the others see this node exit. Idempotent. The actor system
    /// keeps running (coordinated shutdown does not terminate it here): the middle's links are actors in it, and the
    /// busy tunnels still relay through the drain's grace period; <see cref="DisposeAsync"/> terminates it last.
    /// </summary>
    public Task LeaveAsync()
    {
        lock (_leaveLock)
        {
            if (_leaving is not null) return _leaving;
            return _leaving = CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        }
    }

    private readonly Lock _leaveLock = new();
    private Task? _leaving;

    /// <summary>Stops without a word to the cluster: to the other nodes this node has crashed (tests of failure).</summary>
    public async Task AbandonAsync()
    {
        await StopCountingAsync().ConfigureAwait(false);
        await System.Terminate().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopCountingAsync().ConfigureAwait(false);
        if (Registry is { } registry) await registry.DisposeAsync().ConfigureAwait(false);
        if (!System.WhenTerminated.IsCompleted) await LeaveAsync().ConfigureAwait(false);
        await System.Terminate().ConfigureAwait(false);
        _certificate?.Dispose();
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

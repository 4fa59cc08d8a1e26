using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lstp.Protocol;
using Lstp.Transport.Telemetry;

namespace Lstp.Middle.Telemetry;

/// <summary>
/// A middle's instruments (docs/observability.md), on a meter of its own so that several middles in one process
/// (the demo, the tests) report apart. Counts that the links update on their hot path stay plain lock-free fields,
/// read by observable instruments at collection time; only the pairing latency is recorded as it happens.
/// </summary>
public sealed class MiddleMetrics : IDisposable
{
    private long _connections;
    private long _firstToSecond;
    private long _secondToFirst;
    private long _spliced;
    private long _publishedToClient;
    private long _publishedFromClient;
    private long _publishedSpliced;
    private long _spliceRoomWaits;
    private long _nodeLinksOut;
    private long _publishedClients;
    private long _publishedClientsNow;
    private readonly ConcurrentDictionary<ErrorCode, long> _errors = new();
    private readonly ConcurrentDictionary<PairingPath, long> _pairings = new();
    private readonly Histogram<double> _pairingDuration;
    private readonly Func<ClusterFigures>? _cluster;

    public MiddleMetrics(MiddleNode node)
    {
        _cluster = node.Options.Cluster;
        Meter = new Meter(TelemetryNames.MiddleMeter);
        var name = new KeyValuePair<string, object?>("node", node.Options.Name);
        Meter.CreateObservableCounter("lstp.links.accepted", () => Connections, "{link}", "Links this middle accepted (ends, node-to-node and data links).");
        Meter.CreateObservableCounter("lstp.links.refused", () => _errors.Select(e => new Measurement<long>(e.Value, new KeyValuePair<string, object?>("reason", e.Key.ToString()))),
            "{link}", "Links this middle closed with an ERROR, by its code: refusals (AdmissionDenied, RateLimited, TooManyWaiting, ...), expiries and protocol errors.");
        Meter.CreateObservableCounter("lstp.pairings", () => _pairings.Select(p => new Measurement<long>(p.Value, Path(p.Key))),
            "{pairing}", "Pairings made here, by where the peer was: local (both ends here), node (another node of the cluster), upstream (handed on to --upstream).");
        _pairingDuration = Meter.CreateHistogram("lstp.pairing.duration", "s",
            "From the registration of the end that completed a pairing to both ends being sent the pairing, by path.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TelemetryNames.DurationBuckets });
        Meter.CreateObservableGauge("lstp.tunnels", () => new Measurement<long>(node.Tunnels.Count, name), "{tunnel}", "Paired tunnels this middle relays now.");
        Meter.CreateObservableGauge("lstp.waiting_ends", () => new Measurement<long>(node.Registry.Snapshot().Count, name), "{end}", "Ends registered here and waiting for their peer.");
        Meter.CreateObservableGauge("lstp.channels", () => new Measurement<long>(node.Tunnels.Snapshot().Sum(t => (long)t.ReportedChannels), name),
            "{channel}", "Channels open in the tunnels relayed here, as the ends report them in TUNNEL_REPORT.");
        Meter.CreateObservableCounter("lstp.relayed", () => (IEnumerable<Measurement<long>>)
            [
                new(Interlocked.Read(ref _firstToSecond), new KeyValuePair<string, object?>("direction", "first_to_second")),
                new(Interlocked.Read(ref _secondToFirst), new KeyValuePair<string, object?>("direction", "second_to_first")),
            ], "By", "RELAY bytes forwarded (headers included), from the end that waited to the end that completed the pairing, and back.");
        Meter.CreateObservableCounter("lstp.relayed.spliced", () => Interlocked.Read(ref _spliced), "By",
            "Of the RELAY bytes forwarded, those moved from link to link inside the kernel (splice), never copied through the middle's memory.");
        Meter.CreateObservableGauge("lstp.published.ports", () => (long)node.Publisher.Ports.Count, "{port}", "Public ports open for ends' services (--publish).");
        Meter.CreateObservableGauge("lstp.published.clients", () => Interlocked.Read(ref _publishedClientsNow), "{client}",
            "Plain clients of published ports connected now: held for their data link, or spliced to it.");
        Meter.CreateObservableCounter("lstp.published.clients.accepted", () => Interlocked.Read(ref _publishedClients), "{client}", "Plain clients published ports accepted.");
        Meter.CreateObservableCounter("lstp.published.relayed", () => (IEnumerable<Measurement<long>>)
            [
                new(Interlocked.Read(ref _publishedToClient), new KeyValuePair<string, object?>("direction", "to_client")),
                new(Interlocked.Read(ref _publishedFromClient), new KeyValuePair<string, object?>("direction", "from_client")),
            ], "By", "Payload bytes between published ports' plain clients and their data links, to the client and from it.");
        Meter.CreateObservableCounter("lstp.published.relayed.spliced", () => Interlocked.Read(ref _publishedSpliced), "By",
            "Of the bytes to published ports' clients, those moved from data link to client inside the kernel (splice).");
        Meter.CreateObservableGauge("lstp.node_links", () => (IEnumerable<Measurement<long>>)
            [
                new(node.Links.Keys.Count(l => l.Role == Protocol.Framing.LinkRole.Node), new KeyValuePair<string, object?>("direction", "in")),
                new(Interlocked.Read(ref _nodeLinksOut), new KeyValuePair<string, object?>("direction", "out")),
            ], "{link}", "Node-to-node links open: from other middles (in), and this middle's own to an upstream or another node (out).");
        Meter.CreateObservableGauge("lstp.cluster.members", () => ClusterNow().Members.Select(m => new Measurement<long>(m.Value, new KeyValuePair<string, object?>("status", m.Key))),
            "{member}", "Members of this middle's cluster by status (joining, up, leaving, exiting, down); a lone middle is one member up.");
        Meter.CreateObservableGauge("lstp.cluster.unreachable_members", () => (long)ClusterNow().Unreachable, "{member}", "Members this node's failure detector marks unreachable.");
        Meter.CreateObservableGauge("lstp.cluster.shards", () => ClusterNow().Shards.Select(s => new Measurement<long>(s.Value, new KeyValuePair<string, object?>("node", s.Key))),
            "{shard}", "Pairing-registry shards each member hosts, as the cluster's sharding reports them (a cluster only).");
    }

    /// <summary>The meter the node's telemetry exports (one per middle).</summary>
    public Meter Meter { get; }

    public long Connections => Interlocked.Read(ref _connections);
    public long Pairings => _pairings.Values.Sum();
    public long BytesRelayed => Interlocked.Read(ref _firstToSecond) + Interlocked.Read(ref _secondToFirst);
    public IReadOnlyDictionary<ErrorCode, long> Errors => _errors;

    public void Connected() => Interlocked.Increment(ref _connections);

    /// <summary>A pairing was made and both ends told, <paramref name="latency"/> after the completing end registered.</summary>
    public void Paired(PairingPath path, TimeSpan latency)
    {
        _pairings.AddOrUpdate(path, 1, (_, n) => n + 1);
        _pairingDuration.Record(latency.TotalSeconds, Path(path));
    }

    /// <summary>RELAY bytes forwarded from the tunnel's first end (the one that waited) or from its second.</summary>
    public void Relayed(long bytes, bool fromFirst) => Interlocked.Add(ref (fromFirst ? ref _firstToSecond : ref _secondToFirst), bytes);

    /// <summary>RELAY payload bytes moved from link to link in the kernel (also counted as relayed).</summary>
    public void Spliced(long bytes) => Interlocked.Add(ref _spliced, bytes);

    public long BytesSpliced => Interlocked.Read(ref _spliced);

    /// <summary>A splice found the peer's socket full and waited for room (not exported: the tests' view of that path).</summary>
    public void SpliceWaitedForRoom() => Interlocked.Increment(ref _spliceRoomWaits);

    public long SpliceRoomWaits => Interlocked.Read(ref _spliceRoomWaits);

    public void Error(ErrorCode code) => _errors.AddOrUpdate(code, 1, (_, n) => n + 1);

    /// <summary>Raised for every ERROR the middle sends, with its reason and the link it went to (the dashboard's recent errors).</summary>
    public event Action<ErrorCode, string, string>? ErrorSent;

    public void Error(ErrorCode code, string reason, string remote)
    {
        Error(code);
        ErrorSent?.Invoke(code, reason, remote);
    }

    public void NodeLinkOpened() => Interlocked.Increment(ref _nodeLinksOut);
    public void NodeLinkClosed() => Interlocked.Decrement(ref _nodeLinksOut);

    /// <summary>A plain client connected to a published port.</summary>
    public void PublishedClientArrived()
    {
        Interlocked.Increment(ref _publishedClients);
        Interlocked.Increment(ref _publishedClientsNow);
    }

    /// <summary>A plain client left: expired unclaimed, or its splice ended.</summary>
    public void PublishedClientLeft() => Interlocked.Decrement(ref _publishedClientsNow);

    /// <summary>Payload bytes a published port's data link carried to its client, or from it.</summary>
    public void PublishedRelayed(long bytes, bool toClient) => Interlocked.Add(ref (toClient ? ref _publishedToClient : ref _publishedFromClient), bytes);

    /// <summary>Of the bytes to a published port's client, those moved from its data link in the kernel (also counted as relayed).</summary>
    public void PublishedSpliced(long bytes) => Interlocked.Add(ref _publishedSpliced, bytes);

    public long BytesPublishedSpliced => Interlocked.Read(ref _publishedSpliced);

    private ClusterFigures ClusterNow()
    {
        try
        {
            return _cluster?.Invoke() ?? ClusterFigures.Alone;
        }
        catch (Exception)
        {
            return ClusterFigures.Alone with { Members = new Dictionary<string, int>() };
        }
    }

    private static KeyValuePair<string, object?> Path(PairingPath path) => new("path", path switch
    {
        PairingPath.Local => "local",
        PairingPath.Node => "node",
        _ => "upstream",
    });

    public void Dispose() => Meter.Dispose();
}

/// <summary>Where a pairing's peer was: at this middle, at another node of its cluster, or beyond its --upstream.</summary>
public enum PairingPath
{
    Local,
    Node,
    Upstream,
}

/// <summary>A cluster as one node sees it now: its members by status, how many are unreachable, shards per member name.</summary>
public sealed record ClusterFigures(IReadOnlyDictionary<string, int> Members, int Unreachable, IReadOnlyDictionary<string, int> Shards)
{
    /// <summary>A lone middle: a cluster of one, itself up, with no shards (its registry is in memory).</summary>
    public static readonly ClusterFigures Alone = new(new Dictionary<string, int> { ["up"] = 1 }, 0, new Dictionary<string, int>());
}

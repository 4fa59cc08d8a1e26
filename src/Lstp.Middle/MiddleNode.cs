using System.Security.Cryptography;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Middle.Telemetry;
using Lstp.Protocol;
using Lstp.Protocol.Messages;

namespace Lstp.Middle;

/// <summary>One middle's shared state: its options, identity, registry, tunnels and counters.</summary>
public sealed class MiddleNode
{
    private readonly MiddleOptions options;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory? loggers;

    public MiddleNode(MiddleOptions options, IPairingRegistry registry, Microsoft.Extensions.Logging.ILoggerFactory? loggers = null)
    {
        this.options = options;
        this.loggers = loggers;
        Registry = registry;
        LinkCount = new LinkCounter(options);
        RateLimiter = new SourceRateLimiter(options.MaxConnectionsPerSecondPerSource, options.Time);
        StartedAt = options.Time.GetUtcNow();
        Metrics = new MiddleMetrics(this);
        Publisher = new Publishing.Publisher(options, (loggers ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Lstp.Middle.Publishing"), Metrics);
    }

    public MiddleOptions Options => options;
    public IPairingRegistry Registry { get; }
    public TunnelBook Tunnels { get; } = new();

    /// <summary>Ports this middle publishes for ends (the relay/agent design).</summary>
    public Publishing.Publisher Publisher { get; }

    /// <summary>Every link open at this node now (ends and node links), e.g. to tell them all to move when draining.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<LinkSession, byte> Links { get; } = new();

    /// <summary>This middle's instruments (docs/observability.md).</summary>
    public Telemetry.MiddleMetrics Metrics { get; }

    /// <summary>Links open, in all and per source, against the limits.</summary>
    public LinkCounter LinkCount { get; }
    public SourceRateLimiter RateLimiter { get; }

    /// <summary>Ends handed on to the --upstream middle and not yet paired there, per source: this middle's own waiting limit.</summary>
    public SourceCounter HandedOn { get; } = new();

    /// <summary>Live node links that presented one of this middle's tokens, per source: known neighbour middles.</summary>
    public SourceCounter Neighbours { get; } = new();

    /// <summary>
    /// Whether a new link from <paramref name="source"/> is exempt from the per-source connection rate: the source holds
    /// a publish control link (its data links answer a flood of public clients) or an admitted node link (a neighbour
    /// middle, which applied the per-source limits to the ends behind it itself).
    /// </summary>
    public bool ExemptFromRate(string source) => Publisher.IsAgent(source) || Neighbours.Has(source);
    public byte[] NodeId { get; } = RandomNumberGenerator.GetBytes(ProtocolLimits.NodeIdSize);
    public DateTimeOffset StartedAt { get; }

    /// <summary>
    /// The parent of this middle's link actors (<see cref="Links.LinksActor"/>), created in <paramref name="actors"/>:
    /// call once, before the link listener accepts.
    /// </summary>
    public void StartLinks(Akka.Actor.ActorSystem actors)
    {
        var log = (loggers ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Lstp.Middle.Links");
        LinkActors = actors.ActorOf(Akka.Actor.Props.Create(() => new Links.LinksActor(this, log)), "links");
        Relays = new RelayHosts(this, actors, Environment.ProcessorCount);
        _actors = actors;
    }

    /// <summary>The graphs that relay this node's paired tunnels (<see cref="StartLinks"/>).</summary>
    public RelayHosts Relays { get; private set; } = null!;

    private Akka.Actor.ActorSystem? _actors;

    /// <summary>Where the link listener hands each accepted link (<see cref="StartLinks"/>).</summary>
    public Akka.Actor.IActorRef LinkActors { get; private set; } = Akka.Actor.ActorRefs.Nobody;

    /// <summary>False once the actor system stops: a link accepted then is closed at once.</summary>
    public bool AcceptsLinks => _actors is { WhenTerminated.IsCompleted: false };

    /// <summary>The actual link address once the listener has bound (port 0 resolved).</summary>
    public string? BoundAddress { get; set; }

    /// <summary>This middle's own TOPOLOGY_EXCHANGE entry, appended to every setup it forwards.</summary>
    public TopologyEntry Self => new(NodeKind.Middle, options.Name, options.PublicAddress ?? BoundAddress ?? options.Listen.ToString(), NodeId);
}

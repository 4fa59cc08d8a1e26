using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Lstp.Tunnel.Streams;

namespace Lstp.Middle.Relay;

/// <summary>
/// Where paired tunnels are relayed: a fixed set of long-lived graphs (one per core), each one stage that runs the
/// relay graph of every tunnel handed to it inside its own interpreter, materialized with that stage's sub-fusing
/// materializer (as flatMapConcat runs its substreams). A tunnel's relay then costs its stages and an interpreter,
/// not an actor: an actor per tunnel graph (or per link) measured about 28 KiB more middle memory per idle tunnel
/// (docs/architecture.md). Tunnels go to the hosts in turn.
/// </summary>
public sealed class RelayHosts
{
    private readonly MiddleNode _node;
    private readonly Host[] _hosts;
    private int _next;

    /// <summary>Starts <paramref name="count"/> hosts on the system's byte-stream materializer.</summary>
    public RelayHosts(MiddleNode node, ActorSystem system, int count)
    {
        _node = node;
        var materializer = ByteStreams.MaterializerOf(system);
        _hosts = new Host[count];
        for (var i = 0; i < count; i++)
        {
            var (start, stopped) = Source.FromGraph(new RelayHost())
                .ToMaterialized(Sink.Ignore<NotUsed>(), Keep.Both)
                .Run(materializer);
            _hosts[i] = new Host(start, stopped);
        }
    }

    /// <summary>How many hosts relay this node's tunnels.</summary>
    public int Count => _hosts.Length;

    /// <summary>
    /// Relays a newly paired tunnel both ways: each link's actor hears (<see cref="LinkSession.RelayEnded"/>) when its
    /// reading stops. Both links have their <see cref="LinkSession.Peer"/> set, and neither is read by anyone else.
    /// </summary>
    public void Start(LinkSession first, LinkSession second)
    {
        var relay = new TunnelRelay(_node, first, second);
        var host = _hosts[(uint)Interlocked.Increment(ref _next) % (uint)_hosts.Length];
        // A host stops only with the actor system: its tunnels' links then close instead of waiting for it.
        if (host.Stopped.IsCompleted) relay.Failed(new InvalidOperationException("the middle's relay hosts have stopped"));
        else host.Start(relay);
    }

    private sealed record Host(Action<TunnelRelay> Start, Task<Done> Stopped);

    /// <summary>One host: a source that never emits, whose logic materializes each tunnel's graph in its own interpreter.</summary>
    private sealed class RelayHost : GraphStageWithMaterializedValue<SourceShape<NotUsed>, Action<TunnelRelay>>
    {
        public RelayHost() => Shape = new SourceShape<NotUsed>(Out);

        public Outlet<NotUsed> Out { get; } = new("relay-host.out");

        public override SourceShape<NotUsed> Shape { get; }

        public override ILogicAndMaterializedValue<Action<TunnelRelay>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
        {
            var logic = new Logic(this);
            return new LogicAndMaterializedValue<Action<TunnelRelay>>(logic, logic.Started);
        }

        private sealed class Logic : OutGraphStageLogic
        {
            public Logic(RelayHost stage) : base(stage.Shape)
            {
                SetHandler(stage.Out, this);
                // Invoked from any thread, before this logic starts too (Akka queues those until it does).
                Started = GetAsyncCallback<TunnelRelay>(Run);
            }

            public Action<TunnelRelay> Started { get; }

            public override void OnPull()
            {
                // Never emits: the host lives as long as the actor system.
            }

            private void Run(TunnelRelay relay)
            {
                try
                {
                    relay.Run(SubFusingMaterializer);
                }
                catch (Exception ex)
                {
                    relay.Failed(ex);
                }
            }
        }
    }
}

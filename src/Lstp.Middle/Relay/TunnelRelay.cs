using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Lstp.Middle.Relay;

/// <summary>
/// A paired tunnel's relay graph, both directions in one graph, run by a relay host (<see cref="RelayHosts"/>):
/// <code>
///  ┌──────────────────────┐ read (lent) ┌──────────────────────────────┐
///  │ LinkReads(first)     │────────────►│ RelayFrames: RELAY to the    │──► second's socket
///  │ the link's input pipe│◄── pull ────│ second, PING answered        │    (its output lock)
///  └──────────────────────┘  AdvanceTo  └──────────────────────────────┘
///  ┌──────────────────────┐ read (lent) ┌──────────────────────────────┐
///  │ LinkReads(second)    │────────────►│ RelayFrames: RELAY to the    │──► first's socket
///  └──────────────────────┘             │ first, PING answered         │
///                                       └──────────────────────────────┘
/// </code>
/// The two directions share nothing but the interpreter: one ending (its link closed) leaves the other relaying
/// until its own link closes, as two relay loops did. The graph is built and fused once (<see cref="Blueprint"/>);
/// each tunnel materializes it with this attribute, from which its stages' logics take their links, so a tunnel
/// costs its logics, their connections and an interpreter, and the stages, modules and assembly are shared.
/// </summary>
internal sealed class TunnelRelay(MiddleNode node, LinkSession first, LinkSession second) : Attributes.IAttribute
{
    /// <summary>The one fused graph every tunnel's relay is materialized from.</summary>
    public static readonly IGraph<ClosedShape, NotUsed> Blueprint = Fusing.Aggressive(RunnableGraph.FromGraph(GraphDsl.Create(builder =>
    {
        Direction(builder, RelaySide.First);
        Direction(builder, RelaySide.Second);
        return ClosedShape.Instance;
    })));

    /// <summary>The direction that reads the first link (the one that waited), and the one that reads the second.</summary>
    public LentRead First { get; } = new(first, node);

    public LentRead Second { get; } = new(second, node);

    public LentRead Reading(RelaySide side) => side == RelaySide.First ? First : Second;

    /// <summary>What a stage's logic reads: <paramref name="side"/> of the tunnel relay it was materialized with.</summary>
    public static LentRead Reading(Attributes attributes, RelaySide side) =>
        (attributes.GetAttribute<TunnelRelay>() ?? throw new InvalidOperationException("a tunnel relay is materialized with its TunnelRelay")).Reading(side);

    /// <summary>Materializes this tunnel's relay in the interpreter <paramref name="materializer"/> belongs to.</summary>
    public void Run(IMaterializer materializer) => materializer.Materialize(Blueprint, new Attributes(this));

    /// <summary>The graph could not start: both links' actors hear it (and close).</summary>
    public void Failed(Exception error)
    {
        first.RelayEnded(error);
        second.RelayEnded(error);
    }

    private static void Direction(GraphDsl.Builder<NotUsed> builder, RelaySide side)
    {
        var reads = builder.Add(new LinkReads(side));
        var relay = builder.Add(new RelayFrames(side));
        builder.From(reads.Outlet).To(relay.Inlet);
    }
}

/// <summary>Which of a tunnel's two links a direction of its relay reads.</summary>
internal enum RelaySide : byte
{
    First,
    Second,
}

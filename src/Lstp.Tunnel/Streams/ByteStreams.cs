using Akka.Actor;
using Akka.Streams;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// The one materializer an actor system runs its byte streams with (each channel's graph, both directions): an
/// Akka extension, so every tunnel of a node shares it and it lives and dies with the system.
/// </summary>
public sealed class ByteStreams : IExtension
{
    /// <summary>
    /// How long creating the extension waits for the materializer's supervisor to start: at once on its own, but a
    /// process that starts hundreds of actor systems together (the cluster tests' 600 ends) has seen it take over 10 s
    /// while the thread pool grew.
    /// </summary>
    private static readonly TimeSpan SupervisorStart = TimeSpan.FromSeconds(30);

    public ByteStreams(ExtendedActorSystem system)
    {
        // Graphs here are fused into one actor each; a one-element input buffer keeps what an async boundary
        // would hold ahead of a paused channel to a single 64 KiB chunk.
        Materializer = ActorMaterializer.Create(system, ActorMaterializerSettings.Create(system).WithInputBuffer(1, 1), namePrefix: "bytes");
        // Until its supervisor actor has started, Akka materializes a graph by asking the supervisor and blocking on
        // the answer. A thousand channels opening at once on a fresh system then blocked a thousand thread-pool
        // threads, starving the very threads the answer needed, and every tunnel of the process stalled (measured:
        // BurstTests under a parallel test run, tunnels silent for 45 s). So the extension is made when the actor
        // system is (LstpActorSystem), and returns only once the supervisor runs: materializing never blocks then.
        if (Materializer.Supervisor is RepointableActorRef supervisor && !SpinWait.SpinUntil(() => supervisor.IsStarted, SupervisorStart))
        {
            throw new InvalidOperationException($"the byte-stream materializer's supervisor did not start within {SupervisorStart.TotalSeconds:0} s");
        }
    }

    public ActorMaterializer Materializer { get; }

    public static IMaterializer MaterializerOf(ActorSystem system) => system.WithExtension<ByteStreams, ByteStreamsProvider>().Materializer;
}

public sealed class ByteStreamsProvider : ExtensionIdProvider<ByteStreams>
{
    public override ByteStreams CreateExtension(ExtendedActorSystem system) => new(system);
}

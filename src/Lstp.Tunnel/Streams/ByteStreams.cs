using Akka.Actor;
using Akka.Streams;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// The one materializer an actor system runs its byte streams with (each channel's uplink and downlink graphs): an
/// Akka extension, so every tunnel of a node shares it and it lives and dies with the system.
/// </summary>
public sealed class ByteStreams : IExtension
{
    public ByteStreams(ExtendedActorSystem system) =>
        // Graphs here are fused into one actor each; a one-element input buffer keeps what an async boundary
        // would hold ahead of a paused channel to a single 64 KiB chunk.
        Materializer = ActorMaterializer.Create(system, ActorMaterializerSettings.Create(system).WithInputBuffer(1, 1), namePrefix: "bytes");

    public ActorMaterializer Materializer { get; }

    public static IMaterializer MaterializerOf(ActorSystem system) => system.WithExtension<ByteStreams, ByteStreamsProvider>().Materializer;
}

public sealed class ByteStreamsProvider : ExtensionIdProvider<ByteStreams>
{
    public override ByteStreams CreateExtension(ExtendedActorSystem system) => new(system);
}

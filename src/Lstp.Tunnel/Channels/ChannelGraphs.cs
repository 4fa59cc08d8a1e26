using System.Net.Sockets;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Lstp.Protocol.Framing;
using Lstp.Protocol;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// The Akka.Streams graph that carries one channel's bytes, both directions fused into one actor; elements are pooled
/// chunks of up to 64 KiB (256 KiB while the uplink is not compressing), so the per-element cost of a stream is paid
/// once per socket read, not per byte.
/// <code>
/// uplink:    [SocketSource] ──chunk──► [UplinkSender: frame SERVICE_DATA(_COMPRESSED), wait RESUME, writer credit] ──► tunnel
///             application, headroom for the header              TunnelWriter (one writer per tunnel)
///
/// downlink:  [InboxSource: decompress if compressed] ──chunk──► [SocketSink] ──► FIN when the inbox completes
///             tunnel reader's records                          application; each write drains flow control (RESUME)
/// </code>
/// The downlink's sink pulls only when the application took the last chunk, so a slow application leaves records
/// in the inbox; flow control counts them and sends SERVICE_DATA_PAUSE at its threshold, and the sink's drain
/// sends SERVICE_DATA_RESUME. The uplink pulls its socket only when the tunnel took the last frame, so a paused
/// channel stops reading and TCP holds its application back.
/// </summary>
internal static class ChannelGraphs
{
    /// <summary>What the uplink's send answers when the channel or its tunnel is closing: the uplink ends there.</summary>
    public const int Closed = -1;

    /// <summary>
    /// The most one uplink read takes: a full SERVICE_DATA frame is then exactly 64 KiB, four full TLS records and an
    /// array from the pool's 64 KiB bucket. Reading 64 KiB of data made 64 KiB + 9 frames: a fifth TLS record of 9 bytes
    /// for every frame (a fifth read at the receiving end) and 128 KiB arrays.
    /// </summary>
    public const int UplinkRead = ProtocolLimits.ServiceDataChunk - FrameCodec.ServiceDataPrefix;

    /// <summary>
    /// The most one uplink read takes while the channel is not compressing (<see cref="ServiceChannel.NextUplinkRead"/>):
    /// a raw SERVICE_DATA frame of exactly 256 KiB (<see cref="ProtocolLimits.ServiceDataRawChunk"/>), an array from the
    /// pool's 256 KiB bucket, and a quarter of the reads, hand-overs and writer credits per byte of 64 KiB frames.
    /// </summary>
    public const int UplinkBulkRead = ProtocolLimits.ServiceDataRawChunk - FrameCodec.ServiceDataPrefix;

    /// <summary>
    /// Both directions of every channel, built and fused once: a channel materializes this with itself as an
    /// attribute (<see cref="ServiceChannel.Of"/>), from which the stages' logics take its socket and inbox. Building
    /// and fusing the graph per channel was a quarter of an end's CPU under a flood of short connections (perf,
    /// bench/opens); now a channel costs its logics and one interpreter. The materialized value is the tasks of the
    /// uplink (ends at the application's FIN) and the downlink (ends once it half-closed the application), whose
    /// continuations run on the graph's thread as each direction ends: the channel's continuations only note the end
    /// and tell its actor, and running them on the thread pool cost two more thread hops per channel.
    /// </summary>
    public static readonly IGraph<ClosedShape, (Task Uplink, Task Downlink)> Blueprint = Fusing.Aggressive(RunnableGraph.FromGraph(
        GraphDsl.Create(new UplinkSender(), new SocketSink(Application, endsInline: true), (uplink, downlink) => (uplink, downlink), (builder, send, write) =>
        {
            var read = builder.Add(new SocketSource(attributes => ServiceChannel.Of(attributes).Socket, FrameCodec.ServiceDataPrefix, UplinkBulkRead, attributes => ServiceChannel.Of(attributes).NextUplinkRead));
            builder.From(read.Outlet).To(send.Inlet);
            var inbox = builder.Add(new InboxSource());
            builder.From(inbox.Outlet).To(write.Inlet);
            return ClosedShape.Instance;
        })).Named("channel"));

    /// <summary>What the downlink's sink writes to, and what it tells when the application took a chunk.</summary>
    private static (Socket, Action<Chunk>) Application(Attributes attributes)
    {
        var channel = ServiceChannel.Of(attributes);
        return (channel.Socket, channel.Drained);
    }
}

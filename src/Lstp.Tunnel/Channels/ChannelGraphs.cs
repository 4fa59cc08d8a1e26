using System.Net.Sockets;
using System.Threading.Channels;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Lstp.Protocol.Framing;
using Lstp.Protocol;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// The two Akka.Streams graphs that carry one channel's bytes. Each is fused into one actor; elements are pooled
/// chunks of up to 64 KiB, so the per-element cost of a stream is paid once per socket read, not per byte.
/// <code>
/// uplink:    [SocketSource] ──chunk──► [frame: SERVICE_DATA(_COMPRESSED)] ──► [wait RESUME, writer credit: tunnel] ──► done
///             application                headroom for the header                 TunnelWriter (one writer per tunnel)
///
/// downlink:  [inbox] ──record──► [decompress if compressed] ──chunk──► [SocketSink] ──► FIN when the inbox completes
///             tunnel reader                                              application; each write drains flow control (RESUME)
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

    /// <summary>The uplink: reads the application, frames each read and hands it to <paramref name="send"/>; completes at the application's FIN.</summary>
    public static IRunnableGraph<Task> Uplink(Socket socket, Func<Chunk, Chunk> frame, Func<Chunk, Task<int>> send) =>
        Source.FromGraph(new SocketSource(socket, FrameCodec.ServiceDataPrefix, UplinkRead))
            .Select(frame)
            .SelectAsync(1, send)
            .TakeWhile(sent => sent != Closed)
            .ToMaterialized(Sink.Ignore<int>(), Keep.Right)
            .Named("uplink");

    /// <summary>The downlink: writes what the peer sent (decompressed by <paramref name="decompress"/> when given) to the application; half-closes it when the inbox completes.</summary>
    public static IRunnableGraph<Task> Downlink(ChannelReader<InboundRecord> inbox, Socket socket, Func<InboundRecord, Chunk>? decompress, Action<Chunk> drained)
    {
        var records = ChannelSource.FromReader(inbox);
        var chunks = decompress is null ? records.Select(record => record.Data) : records.Select(decompress);
        return chunks.ToMaterialized(new SocketSink(socket, drained), Keep.Right).Named("downlink");
    }
}

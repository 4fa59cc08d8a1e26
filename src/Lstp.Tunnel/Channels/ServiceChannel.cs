using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// One multiplexed service channel's data plane: the local application's socket and the Akka.Streams graph that moves
/// its bytes both ways (<see cref="ChannelGraphs.Blueprint"/>, materialized with this channel as its attribute). Its
/// actor (<see cref="ServiceChannelActor"/>) decides when the graph starts and when the channel ends; the tunnel's
/// reader queues what the peer sent into the channel's inbox in stream order.
/// The uplink reads the socket into SERVICE_DATA frames (waiting while the peer has paused us); the downlink writes
/// the inbox into the socket, and what the inbox holds drives PAUSE/RESUME. When the tunnel agreed on a compression
/// method, the uplink may send a frame as SERVICE_DATA_COMPRESSED (<see cref="ChannelCompressor"/> decides), and the
/// inbox holds compressed records still compressed: the downlink decompresses each just before writing it, so a
/// channel holds at most one decompressed frame however well the data compresses, while flow control counts
/// application bytes (the length each compressed frame declares) either way.
/// </summary>
public sealed class ServiceChannel : Attributes.IAttribute
{
    private readonly Socket _socket;
    private readonly TunnelWriter _writer;
    private readonly TunnelCounters _counters;
    /// <summary>
    /// What arrived for the application and is not yet written, in order. Unbounded as a queue; bounded by flow
    /// control, which pauses the peer at its threshold and cuts a peer that goes on past its ceiling.
    /// </summary>
    private readonly Channel<InboundRecord> _inbox = Channel.CreateUnbounded<InboundRecord>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly bool _mayCompress;
    private bool _downlinkWritable = true;
    private bool _counted;
    private readonly ChannelPipe _pipe = new();
    private readonly Action<Chunk> _queuePiped;

    public ServiceChannel(uint id, Socket socket, TunnelWriter writer, TunnelCounters counters, FlowThresholds thresholds, string description, bool opener, ChannelCompression? compression = null)
    {
        Id = id;
        _socket = socket;
        _writer = writer;
        _counters = counters;
        Description = description;
        IsOpener = opener;
        Flow = new ChannelFlowControl(thresholds.Pause, thresholds.Resume,
            pause => { _writer.SendControl(pause ? new ServiceDataPause(id) : new ServiceDataResume(id)); Telemetry.TunnelTelemetry.FlowControl(counters, pause, sent: true); });
        Compression = compression ?? ChannelCompression.None;
        _mayCompress = Compression.Method != CompressionMethod.None;
        _queuePiped = piped =>
        {
            _counters.AddSpliced(piped.Count);
            Queue(new InboundRecord(piped, false, CompressedFlags.None, piped.Count));
        };
    }

    public uint Id { get; }
    public string Description { get; }
    public bool IsOpener { get; }
    public ChannelFlowControl Flow { get; }
    public PauseGate Gate { get; } = new();

    /// <summary>This end's compression of the channel: the tunnel's method and this end's mode for what it sends.</summary>
    public ChannelCompression Compression { get; }

    /// <summary>The uplink's compressor while it runs (null when this end sends raw): whether auto gave up, for status and tests.</summary>
    public ChannelCompressor? Compressor { get; private set; }

    /// <summary>The channel's actor: the pumps and the reader tell it how their side ended.</summary>
    internal IActorRef Owner { get; set; } = ActorRefs.Nobody;

    private CancellationToken Stopping => _stopping.Token;

    private void Tell(ChannelCommand command) => Owner.Tell(command);

    /// <summary>Tells the peer this end is done with the channel (FIN, or an abort).</summary>
    internal void SendFree(FreeFlags flags) => _writer.SendControl(new ServiceFreeRequest(Id, flags));

    internal void SendFreeResponse() => _writer.SendControl(new ServiceFreeResponse(Id));

    /// <summary>Makes the coming close a reset: the application must not mistake a broken channel for a clean end.</summary>
    internal void ResetOnClose()
    {
        _reset = true;
        ChannelSockets.ResetOnClose(_socket);
    }

    private bool _reset;
    private Task? _uplink;
    private Task? _downlink;

    /// <summary>How long a channel that ends cleanly gives its application to take what arrived before the socket closes anyway.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Stops both pumps and closes the application's socket: at once for a reset; for a clean end, once the downlink
    /// has written what arrived and half-closed (FIN) and the uplink's read is no longer pending. A socket closed
    /// under a pending read is closed abortively, which the application would see as a reset.
    /// </summary>
    internal void Stop()
    {
        if (_counted) _counters.ChannelClosed();
        try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
        if (_downlink is null) _pipe.End(); // otherwise the downlink ends it when it has written what it holds
        if (_reset || _uplink is null || _downlink is null || (_uplink.IsCompleted && _downlink.IsCompleted))
        {
            // The socket goes first: completing the inbox would let the downlink half-close it (a FIN) before a reset.
            try { _socket.Dispose(); } catch (ObjectDisposedException) { }
            _inbox.Writer.TryComplete();
            return;
        }
        _inbox.Writer.TryComplete(); // the downlink writes what arrived, then half-closes
        // Nothing more is read: this wakes the uplink's pending read (it returns 0) without telling the application.
        try { _socket.Shutdown(SocketShutdown.Receive); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
        _ = CloseWhenPumpsEndAsync(_uplink, _downlink, _socket);
    }

    private static async Task CloseWhenPumpsEndAsync(Task uplink, Task downlink, Socket socket)
    {
        try
        {
            await Task.WhenAll(uplink, downlink).WaitAsync(CloseGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The application did not take what arrived in time: what it missed makes this a reset.
            ChannelSockets.ResetOnClose(socket);
        }
        catch (Exception)
        {
            // A pump failed on its way out; the socket closes all the same.
        }
        try { socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    /// <summary>The channel a stage of <see cref="ChannelGraphs.Blueprint"/> serves: the one it was materialized with.</summary>
    internal static ServiceChannel Of(Attributes attributes) =>
        attributes.GetAttribute<ServiceChannel>() ?? throw new InvalidOperationException("a channel's graph is materialized with its ServiceChannel");

    /// <summary>The application's socket, which the channel's graph reads and writes.</summary>
    internal Socket Socket => _socket;

    /// <summary>What arrived for the application, for the downlink to take in order.</summary>
    internal ChannelReader<InboundRecord> Inbox => _inbox.Reader;

    private ChannelDecompressor? _decompressor;

    /// <summary>Materializes the channel's graph (<see cref="ChannelGraphs.Blueprint"/>) with <paramref name="materializer"/>.</summary>
    internal void StartPumps(IMaterializer materializer)
    {
        _counters.ChannelOpened();
        _counted = true;
        var compressor = Compressor = Compression.CreateCompressor(_counters.Compression);
        var decompressor = _decompressor = Compression.CreateDecompressor();
        var (uplink, downlink) = materializer.Materialize(ChannelGraphs.Blueprint, new Attributes(this));
        _uplink = uplink.ContinueWith(t =>
        {
            compressor?.Dispose();
            Ended(t, error => new ChannelCommand.UplinkEnded(error ?? (_tunnelClosed ? new ObjectDisposedException(nameof(TunnelWriter), "the tunnel is closed") : null)));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _downlink = downlink.ContinueWith(t =>
        {
            // Nothing takes what arrives any more: the reader drops it instead of queueing it.
            _inbox.Writer.TryComplete();
            _pipe.End();
            decompressor?.Dispose();
            Ended(t, error => new ChannelCommand.DownlinkEnded(error));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Tells the actor how a graph ended, unless the channel stopped it.</summary>
    private void Ended(Task graph, Func<Exception?, ChannelCommand> notice)
    {
        if (Stopping.IsCancellationRequested) return;
        Tell(notice(graph.IsFaulted ? graph.Exception!.InnerException ?? graph.Exception : null));
    }

    /// <summary>Frames what the uplink read as SERVICE_DATA, or SERVICE_DATA_COMPRESSED when the compressor says so.</summary>
    internal Chunk Frame(Chunk read)
    {
        var compressor = Compressor;
        if (compressor is not null && read.Count > ProtocolLimits.ServiceDataChunk)
        {
            // A bulk read (NextUplinkRead) is larger than a compressed frame may be: it goes raw.
            compressor.SentRaw(read.Count);
            compressor = null;
        }
        var (frame, length) = compressor is null ? Raw(read.Buffer, read.Count) : Compress(compressor, read.Buffer, read.Count);
        return new Chunk(frame, 0, length, read.Count);
    }

    /// <summary>
    /// How much the uplink's next read of the application may take: a whole raw frame (<see cref="ChannelGraphs.UplinkBulkRead"/>)
    /// while nothing will be compressed, else what one compressed frame holds (<see cref="ChannelGraphs.UplinkRead"/>).
    /// </summary>
    internal int NextUplinkRead() =>
        Compressor is not { } compressor || compressor.GoesRaw(ChannelGraphs.UplinkBulkRead) ? ChannelGraphs.UplinkBulkRead : ChannelGraphs.UplinkRead;

    /// <summary>Waits while the peer has paused the channel, then for the tunnel writer's credit; the writer returns the array.</summary>
    /// <returns>The frame's length, or <see cref="ChannelGraphs.Closed"/> when the channel or its tunnel is closing.</returns>
    internal async ValueTask<int> SendAsync(Chunk frame)
    {
        try
        {
            await Gate.WaitOpenAsync(Stopping).ConfigureAwait(false);
            await _writer.SendDataAsync(frame.Buffer, frame.Count, Stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Not a failure of the stream: the channel stops, or its tunnel closed under it. The uplink ends quietly
            // (a faulted task would make Akka log an error for what is an ordinary end) and says why.
            if (ex is ObjectDisposedException) _tunnelClosed = true;
            if (ex is OperationCanceledException) frame.Return(); // the writer returns the array once it has taken it
            return ChannelGraphs.Closed;
        }
        _counters.AddSent(frame.Counted);
        Telemetry.TunnelTelemetry.Sent(_counters, Description, frame.Counted);
        return frame.Count;
    }

    /// <summary>Set when the uplink found the tunnel's writer closed: its end is an error, not the application's FIN.</summary>
    private volatile bool _tunnelClosed;

    /// <summary>Frames the <paramref name="n"/> bytes read into <paramref name="buffer"/> as SERVICE_DATA.</summary>
    private (byte[] Frame, int Length) Raw(byte[] buffer, int n)
    {
        FrameCodec.WriteServiceDataPrefix(buffer, Id, n);
        _counters.Compression.SentRaw();
        return (buffer, FrameCodec.ServiceDataPrefix + n);
    }

    /// <summary>SERVICE_DATA_COMPRESSED in a second pooled buffer when the compressor says so (returning the first), else raw.</summary>
    private (byte[] Frame, int Length) Compress(ChannelCompressor compressor, byte[] buffer, int n)
    {
        if (n < CompressionLimits.MinFrame) return Raw(buffer, n);
        var output = Chunk.Pool.Rent(FrameCodec.ServiceDataCompressedPrefix + n);
        if (!compressor.TryCompress(buffer.AsSpan(FrameCodec.ServiceDataPrefix, n), output.AsMemory(FrameCodec.ServiceDataCompressedPrefix, n), out var written, out var flags))
        {
            Chunk.Pool.Return(output);
            return Raw(buffer, n);
        }
        Chunk.Pool.Return(buffer);
        FrameCodec.WriteServiceDataCompressedPrefix(output, Id, flags, n, written);
        return (output, FrameCodec.ServiceDataCompressedPrefix + written);
    }

    /// <summary>
    /// Decompresses one compressed record into a pooled 64 KiB array (returning the record's), so a channel holds at
    /// most one decompressed frame however well the data compresses. Bad compressed data, or data that does not
    /// decompress to the length its frame declared, throws <see cref="ProtocolException"/>: the channel aborts.
    /// </summary>
    internal Chunk Decompress(InboundRecord record)
    {
        if (!record.Compressed) return record.Data;
        var decompressor = _decompressor ?? throw new ProtocolException(ErrorCode.ProtocolViolation, "SERVICE_DATA_COMPRESSED on a tunnel that agreed on no compression");
        var output = Chunk.Pool.Rent(ProtocolLimits.ServiceDataChunk);
        int n;
        try
        {
            n = decompressor.Decompress(record.Flags, record.Data.Memory, output.AsSpan(0, ProtocolLimits.ServiceDataChunk));
        }
        catch
        {
            Chunk.Pool.Return(output);
            throw;
        }
        finally
        {
            record.Data.Return();
        }
        if (n != record.Declared)
        {
            Chunk.Pool.Return(output);
            throw new ProtocolException(ErrorCode.Malformed, $"malformed SERVICE_DATA_COMPRESSED: it declared {record.Declared} bytes and decompressed to {n}");
        }
        _counters.Compression.Decompressed(n);
        return new Chunk(output, 0, n, record.Data.Counted);
    }

    /// <summary>The application took a chunk: count it delivered, and let flow control send RESUME when it drained enough.</summary>
    internal void Drained(Chunk written)
    {
        _counters.AddReceived(written.Count);
        Telemetry.TunnelTelemetry.Received(_counters, Description, written.Count);
        Flow.OnDrained(written.Counted);
    }

    /// <summary>
    /// Called by the tunnel's reader, in stream order, for each SERVICE_DATA: queues the payload for the downlink
    /// and sends PAUSE when what the channel holds crosses its threshold. A bulk payload of a tunnel that can
    /// <paramref name="splice"/> (plaintext, on a plain TCP link) waits in the channel's pipe (<see cref="ChannelPipe"/>),
    /// any other in a pooled array. Never waits for the application, so one slow channel cannot stall the others.
    /// </summary>
    public async ValueTask ReceiveDataAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken, bool splice = false)
    {
        // A plaintext tunnel's bulk payload goes from the link to the application through a pipe, never through our memory.
        if (splice && _downlinkWritable && length >= SocketSplice.Least)
        {
            length -= await _pipe.MoveAsync(reader, length, _queuePiped, cancellationToken).ConfigureAwait(false);
            if (length == 0) return;
        }
        await ReceiveAsync(reader, length, compressed: false, CompressedFlags.None, length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Called by the tunnel's reader, in stream order, for each SERVICE_DATA_COMPRESSED (<paramref name="length"/>
    /// counts the fields after the channel id): keeps the compressed bytes as a record for the downlink to
    /// decompress, and counts the application length the frame declares. SERVICE_DATA_COMPRESSED on a tunnel that
    /// agreed on no compression, or over 64 KiB either way, is the peer's error and ends the tunnel.
    /// </summary>
    public async ValueTask ReceiveCompressedDataAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        const int Fields = FrameCodec.ServiceDataCompressedFields - 4;
        if (!_mayCompress) throw new ProtocolException(ErrorCode.ProtocolViolation, "SERVICE_DATA_COMPRESSED on a tunnel that agreed on no compression");
        if (length < Fields) throw new ProtocolException(ErrorCode.Malformed, "malformed SERVICE_DATA_COMPRESSED: no flags and length");
        var fields = new byte[Fields];
        for (var got = 0; got < Fields;) got += await reader.ReadPayloadAsync(fields.AsMemory(got), Fields - got, cancellationToken).ConfigureAwait(false);
        var declared = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fields.AsSpan(1));
        var data = length - Fields;
        if (declared > ProtocolLimits.ServiceDataChunk) throw new ProtocolException(ErrorCode.Malformed, $"malformed SERVICE_DATA_COMPRESSED: it declares {declared} bytes; a frame carries at most {ProtocolLimits.ServiceDataChunk}");
        if (data > ProtocolLimits.ServiceDataChunk) throw new ProtocolException(ErrorCode.FrameTooLarge, $"SERVICE_DATA_COMPRESSED with {data} compressed bytes; at most {ProtocolLimits.ServiceDataChunk} are allowed");
        await ReceiveAsync(reader, data, compressed: true, (CompressedFlags)fields[0], (int)declared, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads <paramref name="length"/> payload bytes from the tunnel into a pooled array and queues it for the
    /// downlink, counting the <paramref name="application"/> bytes it stands for first: once queued, the downlink
    /// may drain it at any moment.
    /// </summary>
    private async ValueTask ReceiveAsync(FrameStreamReader reader, int length, bool compressed, CompressedFlags flags, int application, CancellationToken cancellationToken)
    {
        if (!_downlinkWritable)
        {
            await SkipAsync(reader, length, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Most of a large payload is usually in the reader's buffer already: it is lent, not copied.
        byte[] buffer;
        var offset = 0;
        if (await reader.TakePayloadAsync(length, cancellationToken).ConfigureAwait(false) is { } lent) (buffer, offset) = lent;
        else
        {
            buffer = Chunk.Pool.Rent(Math.Max(length, 1));
            try
            {
                for (var got = 0; got < length;) got += await reader.ReadPayloadAsync(buffer.AsMemory(got), length - got, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Chunk.Pool.Return(buffer);
                throw;
            }
        }
        Queue(new InboundRecord(new Chunk(buffer, offset, length, Counted(length, application)), compressed, flags, application));
    }

    /// <summary>Counts a record for flow control and queues it for the downlink.</summary>
    private void Queue(InboundRecord record)
    {
        Flow.OnReceived(record.Data.Counted); // sends PAUSE when this crosses the pause threshold
        if (!_inbox.Writer.TryWrite(record))
        {
            // The downlink gave up (the application is gone): drop what it can no longer take (a pipe's bytes go with the pipe).
            record.Data.Return();
            _downlinkWritable = false;
        }
    }

    /// <summary>
    /// What flow control counts for a frame: its application bytes (a compressed frame's declared length), or the
    /// bytes it occupies if that is more, so a peer that declares too little still cannot make us hold more than
    /// the thresholds allow.
    /// </summary>
    private static int Counted(int stored, int application) => Math.Max(stored, application);

    /// <summary>Called by the tunnel's reader, in stream order, when SERVICE_FREE_REQUEST arrives.</summary>
    public void PeerFinished(FreeFlags flags)
    {
        if (_downlinkWritable)
        {
            _downlinkWritable = false;
            _inbox.Writer.TryComplete();
        }
        Tell(new ChannelCommand.PeerFree(flags));
    }

    public static async ValueTask SkipAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        var scratch = Chunk.Pool.Rent(Math.Min(length, ProtocolLimits.ServiceDataChunk));
        try
        {
            while (length > 0) length -= await reader.ReadPayloadAsync(scratch, length, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Chunk.Pool.Return(scratch);
        }
    }
}

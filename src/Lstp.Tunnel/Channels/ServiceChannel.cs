using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Akka.Actor;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Compression;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Session;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// One multiplexed service channel's data plane: the local application's socket and the two pumps that move its
/// bytes. Its actor (<see cref="ServiceChannelActor"/>) decides when they start and when the channel ends; the
/// tunnel's reader writes into it in stream order. The uplink reads the socket into SERVICE_DATA frames (waiting
/// while the peer has paused us); the downlink writes what the peer sent from a pipe into the socket, and that
/// pipe's fill level drives PAUSE/RESUME. When the tunnel agreed on a compression method, the uplink may send a
/// frame as SERVICE_DATA_COMPRESSED (<see cref="ChannelCompressor"/> decides), and the pipe holds what arrives as
/// <see cref="InboundRecord"/>s, compressed ones still compressed: the downlink decompresses each just before
/// writing it, so a channel holds at most one decompressed frame however well the data compresses, while flow
/// control counts application bytes (the length each compressed frame declares) either way.
/// </summary>
public sealed class ServiceChannel
{
    private readonly Socket _socket;
    private readonly TunnelWriter _writer;
    private readonly TunnelCounters _counters;
    private readonly Pipe _down = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private readonly CancellationTokenSource _stopping = new();
    private readonly bool _records;
    private bool _downlinkWritable = true;
    private bool _counted;

    public ServiceChannel(uint id, Socket socket, TunnelWriter writer, TunnelCounters counters, FlowThresholds thresholds, string description, bool opener, ChannelCompression? compression = null)
    {
        Id = id;
        _socket = socket;
        _writer = writer;
        _counters = counters;
        Description = description;
        IsOpener = opener;
        Flow = new ChannelFlowControl(thresholds.Pause, thresholds.Resume,
            pause => _writer.SendControl(pause ? new ServiceDataPause(id) : new ServiceDataResume(id)));
        Compression = compression ?? ChannelCompression.None;
        // Any frame may arrive compressed once the tunnel agreed on a method: keep them all as records, in order.
        _records = Compression.Method != CompressionMethod.None;
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
    internal void ResetOnClose() => ChannelSockets.ResetOnClose(_socket);

    /// <summary>Stops both pumps and closes the application's socket.</summary>
    internal void Stop()
    {
        if (_counted) _counters.ChannelClosed();
        try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
        try { _socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    internal void StartPumps()
    {
        _counters.ChannelOpened();
        _counted = true;
        _ = Task.Run(UplinkAsync);
        _ = Task.Run(DownlinkAsync);
    }

    private async Task UplinkAsync()
    {
        Exception? error = null;
        using var compressor = Compressor = Compression.CreateCompressor(_counters.Compression);
        try
        {
            while (true)
            {
                await Gate.WaitOpenAsync(Stopping).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(FrameCodec.ServiceDataPrefix + ProtocolLimits.ServiceDataChunk);
                int n;
                try
                {
                    n = await _socket.ReceiveAsync(buffer.AsMemory(FrameCodec.ServiceDataPrefix, ProtocolLimits.ServiceDataChunk), SocketFlags.None, Stopping).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                if (n == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }
                var (frame, length) = compressor is null ? Raw(buffer, n) : Compress(compressor, buffer, n);
                await _writer.SendDataAsync(frame, length, Stopping).ConfigureAwait(false);
                _counters.AddSent(n);
            }
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        Tell(new ChannelCommand.UplinkEnded(error));
    }

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
        var output = ArrayPool<byte>.Shared.Rent(FrameCodec.ServiceDataCompressedPrefix + n);
        if (!compressor.TryCompress(buffer.AsSpan(FrameCodec.ServiceDataPrefix, n), output.AsMemory(FrameCodec.ServiceDataCompressedPrefix, n), out var written, out var flags))
        {
            ArrayPool<byte>.Shared.Return(output);
            return Raw(buffer, n);
        }
        ArrayPool<byte>.Shared.Return(buffer);
        FrameCodec.WriteServiceDataCompressedPrefix(output, Id, flags, n, written);
        return (output, FrameCodec.ServiceDataCompressedPrefix + written);
    }

    private async Task DownlinkAsync()
    {
        Exception? error = null;
        var reader = _down.Reader;
        using var decompressor = Compression.CreateDecompressor();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(Stopping).ConfigureAwait(false);
                var buffer = result.Buffer;
                var (consumed, counted, delivered) = decompressor is null
                    ? await WriteRawAsync(buffer).ConfigureAwait(false)
                    : await WriteRecordsAsync(buffer, decompressor).ConfigureAwait(false);
                reader.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
                if (counted > 0)
                {
                    _counters.AddReceived(delivered);
                    Flow.OnDrained(counted); // sends RESUME when this drains below the resume threshold
                }
                if (result.IsCompleted) break;
            }
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        Tell(new ChannelCommand.DownlinkEnded(error));
    }

    /// <summary>Writes the whole buffer to the application; the bytes consumed, counted and delivered are the same.</summary>
    private async ValueTask<(long Consumed, long Counted, long Delivered)> WriteRawAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            await _socket.SendAsync(segment, SocketFlags.None, Stopping).ConfigureAwait(false);
        }
        return (buffer.Length, buffer.Length, buffer.Length);
    }

    /// <summary>
    /// Writes every whole record in the buffer to the application, decompressing compressed ones into a pooled
    /// 64 KiB buffer one at a time; returns the pipe bytes consumed, what flow control had counted for those records
    /// (<see cref="Counted"/>) and the application bytes delivered. Bad compressed data, or data that does not
    /// decompress to the length its frame declared, throws <see cref="ProtocolException"/>: the channel aborts.
    /// </summary>
    private async ValueTask<(long Consumed, long Counted, long Delivered)> WriteRecordsAsync(ReadOnlySequence<byte> buffer, ChannelDecompressor decompressor)
    {
        var start = buffer.Length;
        long delivered = 0;
        long counted = 0;
        var output = ArrayPool<byte>.Shared.Rent(ProtocolLimits.ServiceDataChunk);
        byte[]? joined = null;
        try
        {
            while (InboundRecord.TryRead(ref buffer, out var compressed, out var flags, out var length, out var payload))
            {
                counted += Counted((int)payload.Length, length);
                if (!compressed)
                {
                    foreach (var segment in payload) await _socket.SendAsync(segment, SocketFlags.None, Stopping).ConfigureAwait(false);
                    delivered += payload.Length;
                    continue;
                }
                ReadOnlyMemory<byte> input;
                if (payload.IsSingleSegment)
                {
                    input = payload.First;
                }
                else
                {
                    joined ??= ArrayPool<byte>.Shared.Rent(ProtocolLimits.ServiceDataChunk);
                    payload.CopyTo(joined);
                    input = joined.AsMemory(0, (int)payload.Length);
                }
                var n = decompressor.Decompress(flags, input, output.AsSpan(0, ProtocolLimits.ServiceDataChunk));
                if (n != length) throw new ProtocolException(ErrorCode.Malformed, $"malformed SERVICE_DATA_COMPRESSED: it declared {length} bytes and decompressed to {n}");
                _counters.Compression.Decompressed(n);
                if (n > 0) await _socket.SendAsync(output.AsMemory(0, n), SocketFlags.None, Stopping).ConfigureAwait(false);
                delivered += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
            if (joined is not null) ArrayPool<byte>.Shared.Return(joined);
        }
        return (start - buffer.Length, counted, delivered);
    }

    /// <summary>
    /// Called by the tunnel's reader, in stream order, for each SERVICE_DATA: copies the payload straight from
    /// the stream into the downlink pipe and sends PAUSE when the pipe crosses its threshold. Never waits for
    /// the application, so one slow channel cannot stall the others.
    /// </summary>
    public ValueTask ReceiveDataAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken) =>
        ReceiveAsync(reader, length, compressed: false, CompressedFlags.None, length, cancellationToken);

    /// <summary>
    /// Called by the tunnel's reader, in stream order, for each SERVICE_DATA_COMPRESSED (<paramref name="length"/>
    /// counts the fields after the channel id): keeps the compressed bytes as a record for the downlink to
    /// decompress, and counts the application length the frame declares. SERVICE_DATA_COMPRESSED on a tunnel that
    /// agreed on no compression, or over 64 KiB either way, is the peer's error and ends the tunnel.
    /// </summary>
    public async ValueTask ReceiveCompressedDataAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        const int Fields = FrameCodec.ServiceDataCompressedFields - 4;
        if (!_records) throw new ProtocolException(ErrorCode.ProtocolViolation, "SERVICE_DATA_COMPRESSED on a tunnel that agreed on no compression");
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
    /// Copies <paramref name="length"/> payload bytes from the tunnel into the downlink pipe (as a record on a
    /// compressing tunnel) and counts the <paramref name="application"/> bytes they stand for before flushing.
    /// </summary>
    private async ValueTask ReceiveAsync(FrameStreamReader reader, int length, bool compressed, CompressedFlags flags, int application, CancellationToken cancellationToken)
    {
        if (!_downlinkWritable)
        {
            await SkipAsync(reader, length, cancellationToken).ConfigureAwait(false);
            return;
        }
        var writer = _down.Writer;
        var stored = length;
        if (_records)
        {
            InboundRecord.WriteHeader(writer.GetSpan(InboundRecord.HeaderSize), compressed, flags, stored, application);
            writer.Advance(InboundRecord.HeaderSize);
        }
        while (length > 0)
        {
            var memory = writer.GetMemory(Math.Min(length, ProtocolLimits.ServiceDataChunk));
            var n = await reader.ReadPayloadAsync(memory, length, cancellationToken).ConfigureAwait(false);
            writer.Advance(n);
            length -= n;
        }
        // Count the bytes before flushing: once flushed, the downlink may drain them at any moment.
        Flow.OnReceived(Counted(stored, application)); // sends PAUSE when this crosses the pause threshold
        var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted)
        {
            // The downlink gave up (the application is gone): drop what it can no longer take.
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
            _down.Writer.Complete();
        }
        Tell(new ChannelCommand.PeerFree(flags));
    }

    public static async ValueTask SkipAsync(FrameStreamReader reader, int length, CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(Math.Min(length, ProtocolLimits.ServiceDataChunk));
        try
        {
            while (length > 0) length -= await reader.ReadPayloadAsync(scratch, length, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}

using System.Buffers;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Link;

/// <summary>
/// A buffered reader of LSTP frames from a Stream. Whole frames for control messages; relay payloads can be
/// streamed out in pieces (<see cref="ReadPayloadAsync"/>), so a large RELAY frame never needs a large buffer.
/// </summary>
public sealed class FrameStreamReader
{
    /// <summary>64 KiB: one loopback socket read, and larger than any control frame.</summary>
    public const int DefaultBufferSize = 64 * 1024;

    /// <summary>The least of a payload buffered for <see cref="TakePayloadAsync"/> to lend the buffer rather than copy it.</summary>
    public const int LendAtLeast = 8 * 1024;

    private readonly Stream _stream;
    private readonly int _directReadAtLeast;
    private readonly bool _lends;
    private byte[] _buffer;

    /// <param name="lendsPayloads">
    /// Large payloads may take the buffer itself (<see cref="TakePayloadAsync"/>); its size must then be one the shared
    /// array pool keeps (a power of two), since the payload's consumer returns it there. Such a reader moves what is left
    /// in its buffer to the front before every read, so a frame whose header a read brings in starts at the front and
    /// a whole SERVICE_DATA payload fits after it.
    /// </param>
    public FrameStreamReader(Stream stream, int bufferSize = DefaultBufferSize, int directReadAtLeast = 0, bool lendsPayloads = false)
    {
        _stream = stream;
        _directReadAtLeast = directReadAtLeast;
        _lends = lendsPayloads;
        var size = Math.Max(bufferSize, ProtocolLimits.MaxSetupPayload + ProtocolLimits.HeaderSize);
        if (lendsPayloads && !System.Numerics.BitOperations.IsPow2(size)) throw new ArgumentOutOfRangeException(nameof(bufferSize), "a lending reader's buffer is a power of two, a size the pool keeps");
        _buffer = lendsPayloads ? Chunk.Pool.Rent(size) : new byte[size];
    }

    /// <summary>
    /// The least a payload read takes straight from the stream into its destination when nothing is buffered; smaller
    /// reads fill the buffer, so small payloads and the headers after them cost one read, not two. By default half
    /// the buffer: over a socket, a direct read is a receive sized by the caller, and many small receives cost more
    /// than one large receive and a copy (measured: a link reader at 4 KiB made 3× the receives of one at 32 KiB).
    /// </summary>
    private int DirectReadAtLeast => _directReadAtLeast > 0 ? _directReadAtLeast : _buffer.Length / 2;
    private int _start;
    private int _end;

    public Stream Stream => _stream;

    /// <summary>Bytes already read from the stream but not yet consumed.</summary>
    public int Buffered => _end - _start;

    /// <summary>Hands over the bytes read from the stream but not consumed (the start of what follows the handshake).</summary>
    public byte[] TakeBuffered()
    {
        var rest = _buffer.AsSpan(_start, Buffered).ToArray();
        _start = _end = 0;
        return rest;
    }

    /// <summary>Reads the 8-byte preamble and returns the peer's link role.</summary>
    public async ValueTask<LinkRole> ReadPreambleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_buffer, _start, Buffered);
            if (Preamble.TryRead(ref sequence, out var role))
            {
                _start += Preamble.Size;
                return role;
            }
            if (!await FillAsync(cancellationToken).ConfigureAwait(false)) throw new EndOfStreamException("the peer closed before sending the LSTP preamble");
        }
    }

    /// <summary>
    /// Reads a frame header; returns null at a clean end of stream between frames. A read it needs takes at most
    /// <paramref name="readAtMost"/> bytes: the caller that expects a large payload next keeps it out of the buffer, to
    /// be read straight into its destination.
    /// </summary>
    public async ValueTask<(MessageType Type, int Length)?> ReadHeaderAsync(int maxPayload, CancellationToken cancellationToken, int readAtMost = int.MaxValue)
    {
        while (Buffered < ProtocolLimits.HeaderSize)
        {
            if (!await FillAsync(cancellationToken, readAtMost).ConfigureAwait(false))
            {
                if (Buffered == 0) return null;
                throw new EndOfStreamException("the peer closed in the middle of a frame header");
            }
        }
        var header = _buffer.AsSpan(_start, ProtocolLimits.HeaderSize);
        var type = header[0];
        var length = FrameCodec.ReadLength(header);
        if (!MessageNames.IsKnown(type)) throw new ProtocolException(ErrorCode.UnknownType, $"unknown frame type 0x{type:X2}");
        if (length > maxPayload) throw new ProtocolException(ErrorCode.FrameTooLarge, $"{MessageNames.Of((MessageType)type)} of {length} bytes exceeds the limit of {maxPayload}");
        _start += ProtocolLimits.HeaderSize;
        return ((MessageType)type, length);
    }

    /// <summary>Reads a whole payload (at most the buffer size) and decodes it.</summary>
    public async ValueTask<Message> ReadBodyAsync(MessageType type, int length, CancellationToken cancellationToken)
    {
        if (length > _buffer.Length) throw new ProtocolException(ErrorCode.FrameTooLarge, $"{MessageNames.Of(type)} of {length} bytes is larger than this reader allows");
        await EnsureAsync(length, cancellationToken).ConfigureAwait(false);
        var message = MessageCodec.Decode(type, _buffer.AsSpan(_start, length));
        _start += length;
        return message;
    }

    /// <summary>Reads the next whole message; null at a clean end of stream.</summary>
    public async ValueTask<Message?> ReadMessageAsync(int maxPayload, CancellationToken cancellationToken)
    {
        var header = await ReadHeaderAsync(maxPayload, cancellationToken).ConfigureAwait(false);
        if (header is null) return null;
        return await ReadBodyAsync(header.Value.Type, header.Value.Length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The direct-read bar of a tunnel's reader, whose stream is TLS (or the plaintext link's RELAY payloads, already
    /// buffered below): a TLS read returns at most one 16 KiB record, so with half the buffer (32 KiB) as the bar the
    /// second half of every 64 KiB SERVICE_DATA went through the buffer, a second copy of each byte.
    /// </summary>
    public const int TunnelDirectRead = 4096;

    /// <summary>
    /// Copies up to <paramref name="remaining"/> payload bytes into <paramref name="destination"/>. Destinations of at
    /// least the direct-read bar are read into directly when nothing is buffered, saving a copy; so is any destination
    /// when <paramref name="direct"/> (the caller expects a large frame next, whose start a fill would copy).
    /// </summary>
    public async ValueTask<int> ReadPayloadAsync(Memory<byte> destination, int remaining, CancellationToken cancellationToken, bool direct = false)
    {
        var want = Math.Min(destination.Length, remaining);
        if (want == 0) return 0;
        if (Buffered == 0)
        {
            if (want >= DirectReadAtLeast || direct)
            {
                var read = await _stream.ReadAsync(destination[..want], cancellationToken).ConfigureAwait(false);
                if (read == 0) throw new EndOfStreamException("the peer closed in the middle of a frame");
                return read;
            }
            if (!await FillAsync(cancellationToken).ConfigureAwait(false)) throw new EndOfStreamException("the peer closed in the middle of a frame");
        }
        var n = Math.Min(want, Buffered);
        _buffer.AsMemory(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    /// <summary>
    /// Reads a payload of <paramref name="length"/> bytes into an array of <see cref="Chunk.Pool"/> without copying what of it is
    /// already buffered: the buffer itself is lent out as the payload's array, and the reader goes on in a fresh one with
    /// only the bytes after the payload moved into it. The caller returns the array to <see cref="Chunk.Pool"/>.
    /// Null when that would not save a copy or would hold more memory than a copy (a reader that does not lend, too
    /// little of the payload buffered, more of the next frames buffered than of this payload, a payload of half the
    /// buffer or less, whose copy would take a smaller array, or no room for it after where it starts): the caller then
    /// reads it with <see cref="ReadPayloadAsync"/>.
    /// </summary>
    public async ValueTask<(byte[] Array, int Offset)?> TakePayloadAsync(int length, CancellationToken cancellationToken)
    {
        var inBuffer = Math.Min(Buffered, length);
        var after = Buffered - inBuffer;
        if (!_lends || inBuffer < LendAtLeast || after > inBuffer || length <= _buffer.Length / 2 || _start + length > _buffer.Length) return null;
        var taken = _buffer;
        var offset = _start;
        var next = Chunk.Pool.Rent(taken.Length);
        taken.AsSpan(_start + inBuffer, after).CopyTo(next);
        _buffer = next;
        _start = 0;
        _end = after;
        try
        {
            for (var got = inBuffer; got < length;) got += await ReadPayloadAsync(taken.AsMemory(offset + got), length - got, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Chunk.Pool.Return(taken);
            throw;
        }
        return (taken, offset);
    }

    /// <summary>Copies up to <paramref name="max"/> buffered bytes into <paramref name="pipe"/> (as many as it has room for) and consumes them.</summary>
    public int CopyBufferedInto(KernelPipe pipe, int max)
    {
        var n = SocketSplice.Write(pipe, _buffer.AsSpan(_start, Math.Min(max, Buffered)));
        _start += n;
        return n;
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> payload bytes into <paramref name="pipe"/>: buffered ones by copying them in,
    /// else from a stream that can splice (<see cref="IPipeSource"/>). Returns the count moved, or
    /// <see cref="SocketSplice.PipeFull"/> or <see cref="SocketSplice.Refused"/> (the caller reads the rest as usual).
    /// </summary>
    public async ValueTask<int> MovePayloadAsync(KernelPipe pipe, int max, CancellationToken cancellationToken)
    {
        if (Buffered > 0)
        {
            var copied = CopyBufferedInto(pipe, max);
            return copied > 0 ? copied : SocketSplice.PipeFull;
        }
        if (_stream is not IPipeSource source) return SocketSplice.Refused;
        var moved = await source.MoveIntoAsync(pipe, max, cancellationToken).ConfigureAwait(false);
        if (moved == 0) throw new EndOfStreamException("the peer closed in the middle of a frame");
        return moved;
    }

    /// <summary>Reads raw bytes after the framed part of a stream: buffered ones first; 0 at end of stream.</summary>
    public async ValueTask<int> ReadRawAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (Buffered == 0) return await _stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        var n = Math.Min(destination.Length, Buffered);
        _buffer.AsMemory(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    private async ValueTask EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (Buffered < count)
        {
            if (!await FillAsync(cancellationToken).ConfigureAwait(false)) throw new EndOfStreamException("the peer closed in the middle of a frame");
        }
    }

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken, int readAtMost = int.MaxValue)
    {
        if (_start > 0 && (_lends || _end == _buffer.Length || _start == _end))
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end -= _start;
            _start = 0;
        }
        var n = await _stream.ReadAsync(_buffer.AsMemory(_end, Math.Min(_buffer.Length - _end, readAtMost)), cancellationToken).ConfigureAwait(false);
        if (n == 0) return false;
        _end += n;
        return true;
    }
}

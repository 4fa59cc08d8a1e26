using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Lstp.Protocol.Framing;

/// <summary>Builds one frame: reserves the header, appends fields, then patches the length in.</summary>
public sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public WireWriter(MessageType type)
    {
        Type = type;
        _buffer.Advance(ProtocolLimits.HeaderSize);
    }

    public MessageType Type { get; }

    public WireWriter U8(byte value) { _buffer.GetSpan(1)[0] = value; _buffer.Advance(1); return this; }
    public WireWriter U16(ushort value) { BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), value); _buffer.Advance(2); return this; }
    public WireWriter U32(uint value) { BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value); _buffer.Advance(4); return this; }
    public WireWriter U64(ulong value) { BinaryPrimitives.WriteUInt64BigEndian(_buffer.GetSpan(8), value); _buffer.Advance(8); return this; }
    public WireWriter I64(long value) { BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value); _buffer.Advance(8); return this; }

    /// <summary>A u16 byte count and UTF-8; a string that is not valid Unicode (a lone surrogate) throws instead of being altered.</summary>
    public WireWriter Str(string value)
    {
        var count = Strict.GetByteCount(value);
        if (count > ushort.MaxValue) throw new ArgumentException("string longer than 65535 bytes", nameof(value));
        U16((ushort)count);
        Strict.GetBytes(value, _buffer.GetSpan(count));
        _buffer.Advance(count);
        return this;
    }

    public WireWriter Bytes8(ReadOnlySpan<byte> value)
    {
        if (value.Length > byte.MaxValue) throw new ArgumentException("byte string longer than 255", nameof(value));
        U8((byte)value.Length);
        return Raw(value);
    }

    /// <summary>A fixed-size field (node id, pairing key): a value of any other size would shift every field after it.</summary>
    public WireWriter Fixed(ReadOnlySpan<byte> value, int size)
    {
        if (value.Length != size) throw new ArgumentException($"field of {value.Length} bytes where the layout has {size}", nameof(value));
        return Raw(value);
    }

    public WireWriter Raw(ReadOnlySpan<byte> value)
    {
        _buffer.Write(value);
        return this;
    }

    /// <summary>The finished frame (header included).</summary>
    public byte[] ToFrame()
    {
        var frame = _buffer.WrittenSpan.ToArray();
        FrameCodec.WriteHeader(frame, Type, frame.Length - ProtocolLimits.HeaderSize);
        return frame;
    }

    private static readonly UTF8Encoding Strict = new(false, true);
}

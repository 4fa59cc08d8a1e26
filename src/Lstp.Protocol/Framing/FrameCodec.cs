using System.Buffers;
using System.Buffers.Binary;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Framing;

/// <summary>
/// Splits a byte stream into frames and writes frame headers. No I/O.
/// <code>
/// +--------+--------------------------+=====================+
/// | type 8 | payload length 24 (BE)   | payload ...         |
/// +--------+--------------------------+=====================+
/// </code>
/// </summary>
public static class FrameCodec
{
    /// <summary>
    /// Reads one whole frame from <paramref name="buffer"/>. Returns false when more bytes are needed;
    /// throws <see cref="ProtocolException"/> when the header is wrong (unknown type, too large).
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxPayload, out MessageType type, out ReadOnlySequence<byte> payload)
    {
        type = default;
        payload = default;
        if (buffer.Length < ProtocolLimits.HeaderSize) return false;

        Span<byte> header = stackalloc byte[ProtocolLimits.HeaderSize];
        if (buffer.FirstSpan.Length >= ProtocolLimits.HeaderSize) buffer.FirstSpan[..ProtocolLimits.HeaderSize].CopyTo(header);
        else buffer.Slice(0, ProtocolLimits.HeaderSize).CopyTo(header);

        var length = ReadLength(header);
        if (!MessageNames.IsKnown(header[0])) throw new ProtocolException(ErrorCode.UnknownType, $"unknown frame type 0x{header[0]:X2}");
        if (length > maxPayload) throw new ProtocolException(ErrorCode.FrameTooLarge, $"{MessageNames.Of((MessageType)header[0])} of {length} bytes exceeds the limit of {maxPayload}");
        if (buffer.Length < ProtocolLimits.HeaderSize + length) return false;

        type = (MessageType)header[0];
        payload = buffer.Slice(ProtocolLimits.HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    public static int ReadLength(ReadOnlySpan<byte> header) => (header[1] << 16) | (header[2] << 8) | header[3];

    public static void WriteHeader(Span<byte> destination, MessageType type, int payloadLength)
    {
        if ((uint)payloadLength > ProtocolLimits.AbsoluteMaxPayload) throw new ArgumentOutOfRangeException(nameof(payloadLength));
        destination[0] = (byte)type;
        destination[1] = (byte)(payloadLength >> 16);
        destination[2] = (byte)(payloadLength >> 8);
        destination[3] = (byte)payloadLength;
    }

    /// <summary>Writes a whole frame whose payload is produced by <paramref name="writePayload"/>.</summary>
    public static void Write(IBufferWriter<byte> output, MessageType type, ReadOnlySpan<byte> payload)
    {
        var span = output.GetSpan(ProtocolLimits.HeaderSize + payload.Length);
        WriteHeader(span, type, payload.Length);
        payload.CopyTo(span[ProtocolLimits.HeaderSize..]);
        output.Advance(ProtocolLimits.HeaderSize + payload.Length);
    }

    /// <summary>The 8-byte SERVICE_DATA prefix: frame header plus channel id, before the application bytes.</summary>
    public const int ServiceDataPrefix = ProtocolLimits.HeaderSize + 4;

    public static void WriteServiceDataPrefix(Span<byte> destination, uint channel, int dataLength)
    {
        WriteHeader(destination, MessageType.ServiceData, dataLength + 4);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ProtocolLimits.HeaderSize..], channel);
    }

    /// <summary>The fields of SERVICE_DATA_COMPRESSED before its compressed bytes: channel id, flags, decompressed length.</summary>
    public const int ServiceDataCompressedFields = 9;

    /// <summary>The 13-byte SERVICE_DATA_COMPRESSED prefix: frame header and <see cref="ServiceDataCompressedFields"/>.</summary>
    public const int ServiceDataCompressedPrefix = ProtocolLimits.HeaderSize + ServiceDataCompressedFields;

    public static void WriteServiceDataCompressedPrefix(Span<byte> destination, uint channel, CompressedFlags flags, int length, int dataLength)
    {
        WriteHeader(destination, MessageType.ServiceDataCompressed, dataLength + ServiceDataCompressedFields);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ProtocolLimits.HeaderSize..], channel);
        destination[ProtocolLimits.HeaderSize + 4] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[(ProtocolLimits.HeaderSize + 5)..], (uint)length);
    }
}

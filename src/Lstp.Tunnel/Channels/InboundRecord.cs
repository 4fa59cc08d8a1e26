using System.Buffers;
using System.Buffers.Binary;
using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// How a channel on a compressing tunnel keeps what the peer sent until its application takes it: each
/// SERVICE_DATA or SERVICE_DATA_COMPRESSED payload as one record in the downlink pipe, compressed ones still
/// compressed with the application length they declared. The downlink decompresses a record only when it
/// writes it to the application, so a channel never holds more than one decompressed frame (64 KiB).
/// <code>
/// +-----------------------------+-------------------+--------------------------+=============+
/// | tag 8: 0 raw, 0x80 | flags  | stored length 24  | application length 32    | payload ... |
/// +-----------------------------+-------------------+--------------------------+=============+
/// </code>
/// </summary>
public static class InboundRecord
{
    public const int HeaderSize = 8;

    private const byte CompressedTag = 0x80;

    public static void WriteHeader(Span<byte> destination, bool compressed, CompressedFlags flags, int stored, int application)
    {
        destination[0] = compressed ? (byte)(CompressedTag | ((byte)flags & 0x7f)) : (byte)0;
        destination[1] = (byte)(stored >> 16);
        destination[2] = (byte)(stored >> 8);
        destination[3] = (byte)stored;
        BinaryPrimitives.WriteInt32BigEndian(destination[4..], application);
    }

    /// <summary>Reads one whole record from <paramref name="buffer"/>; false when it has not fully arrived yet.</summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out bool compressed, out CompressedFlags flags, out int application, out ReadOnlySequence<byte> payload)
    {
        compressed = false;
        flags = CompressedFlags.None;
        application = 0;
        payload = default;
        if (buffer.Length < HeaderSize) return false;
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var stored = (header[1] << 16) | (header[2] << 8) | header[3];
        if (buffer.Length < HeaderSize + stored) return false;
        compressed = (header[0] & CompressedTag) != 0;
        flags = (CompressedFlags)(header[0] & 0x7f);
        application = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        payload = buffer.Slice(HeaderSize, stored);
        buffer = buffer.Slice(payload.End);
        return true;
    }
}

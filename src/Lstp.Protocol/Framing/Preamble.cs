using System.Buffers;

namespace Lstp.Protocol.Framing;

/// <summary>What kind of link a preamble opens (byte 5 of the preamble).</summary>
public enum LinkRole : byte
{
    /// <summary>An end proxy's link to its middle.</summary>
    End = 1,
    /// <summary>A middle handing an end on to another middle (cascade or cluster hop).</summary>
    Node = 2,
    /// <summary>A fresh data connection an end opens for one plain client of a published port.</summary>
    Data = 3,
}

/// <summary>
/// The 8 bytes every link starts with, in both directions.
/// <code>
/// +----+----+----+----+---------+------+----------+
/// | 'L'| 'S'| 'T'| 'P'| version | role | reserved |
/// +----+----+----+----+---------+------+----------+
///   0    1    2    3      4        5      6..7 (0)
/// </code>
/// </summary>
public static class Preamble
{
    public const int Size = 8;
    private static ReadOnlySpan<byte> Magic => "LSTP"u8;

    public static void Write(Span<byte> destination, LinkRole role)
    {
        Magic.CopyTo(destination);
        destination[4] = ProtocolLimits.Version;
        destination[5] = (byte)role;
        destination[6] = 0;
        destination[7] = 0;
    }

    public static byte[] Create(LinkRole role)
    {
        var bytes = new byte[Size];
        Write(bytes, role);
        return bytes;
    }

    /// <summary>False when more bytes are needed; throws BadPreamble when the bytes are not LSTP v1.</summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out LinkRole role)
    {
        role = default;
        if (buffer.Length < Size)
        {
            // Reject early garbage without waiting for all 8 bytes.
            Span<byte> partial = stackalloc byte[Size];
            var have = (int)buffer.Length;
            buffer.CopyTo(partial);
            for (var i = 0; i < Math.Min(have, 4); i++)
            {
                if (partial[i] != Magic[i]) throw new ProtocolException(ErrorCode.BadPreamble, "not an LSTP peer (bad magic)");
            }
            return false;
        }
        Span<byte> bytes = stackalloc byte[Size];
        buffer.Slice(0, Size).CopyTo(bytes);
        if (!bytes[..4].SequenceEqual(Magic)) throw new ProtocolException(ErrorCode.BadPreamble, "not an LSTP peer (bad magic)");
        if (bytes[4] != ProtocolLimits.Version) throw new ProtocolException(ErrorCode.BadPreamble, $"unsupported LSTP version {bytes[4]} (this build speaks {ProtocolLimits.Version})");
        if (bytes[5] is < 1 or > 3) throw new ProtocolException(ErrorCode.BadPreamble, $"unknown link role {bytes[5]}");
        role = (LinkRole)bytes[5];
        buffer = buffer.Slice(Size);
        return true;
    }
}

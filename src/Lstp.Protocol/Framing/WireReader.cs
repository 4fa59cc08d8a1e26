using System.Buffers.Binary;
using System.Text;

namespace Lstp.Protocol.Framing;

/// <summary>Reads payload fields in order; any shortfall or bad value throws Malformed.</summary>
public ref struct WireReader(ReadOnlySpan<byte> payload, MessageType type)
{
    private ReadOnlySpan<byte> _rest = payload;
    private readonly MessageType _type = type;

    public readonly int Remaining => _rest.Length;

    public byte U8() => Take(1)[0];
    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));
    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));
    public long I64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    /// <summary>A string is a u16 byte count and UTF-8 bytes.</summary>
    public string Str()
    {
        var length = U16();
        var bytes = Take(length);
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Fail("a string is not valid UTF-8");
        }
    }

    /// <summary>A short byte string: a u8 count and the bytes.</summary>
    public byte[] Bytes8() => Take(U8()).ToArray();

    public byte[] Fixed(int count) => Take(count).ToArray();

    public ReadOnlySpan<byte> Rest()
    {
        var rest = _rest;
        _rest = default;
        return rest;
    }

    /// <summary>Every message ends exactly where its fields end; trailing bytes are an error.</summary>
    public readonly void End()
    {
        if (_rest.Length != 0) throw Fail($"{_rest.Length} unexpected trailing bytes");
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_rest.Length < count) throw Fail("payload is truncated");
        var taken = _rest[..count];
        _rest = _rest[count..];
        return taken;
    }

    private readonly ProtocolException Fail(string why) => new(ErrorCode.Malformed, $"malformed {MessageNames.Of(_type)}: {why}");

    private static readonly UTF8Encoding Strict = new(false, true);
}

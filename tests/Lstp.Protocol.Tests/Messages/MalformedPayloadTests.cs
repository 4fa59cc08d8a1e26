using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

public class MalformedPayloadTests
{
    private static byte[] PayloadOf(Message message) => message.ToFrame()[ProtocolLimits.HeaderSize..];

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void Decode_TruncatedPayload_ThrowsMalformedAtEveryCut(string name)
    {
        var message = Samples.Named(name);
        var payload = PayloadOf(message);
        // SERVICE_DATA and RELAY end in raw bytes: cutting those leaves a shorter but valid message.
        var shortestValid = Samples.EndsInRawBytes(message.Type) ? Samples.FixedPrefix(message.Type) : payload.Length;

        for (var length = 0; length < shortestValid; length++)
        {
            var ex = Codec.DecodeFails(message.Type, payload[..length]);
            Assert.True(ex.Code == ErrorCode.Malformed, $"{name} cut at {length}: {ex.Code} {ex.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void Decode_TrailingBytes_ThrowsMalformed(string name)
    {
        var message = Samples.Named(name);
        if (Samples.EndsInRawBytes(message.Type)) return; // trailing bytes are its data

        var ex = Codec.DecodeFails(message.Type, [.. PayloadOf(message), 0x00]);

        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ff")]             // never valid in UTF-8
    [InlineData("c0 80")]          // overlong NUL
    [InlineData("ed a0 80")]       // an encoded surrogate (U+D800)
    [InlineData("e2 82")]          // a sequence cut short
    [InlineData("f4 90 80 80")]    // above U+10FFFF
    public void Decode_StringThatIsNotUtf8_ThrowsMalformed(string badUtf8)
    {
        var bytes = Bytes.FromHex(badUtf8);
        // ERROR: u16 code | str reason
        var payload = (byte[])[0x00, 0x05, 0x00, (byte)bytes.Length, .. bytes];

        var ex = Codec.DecodeFails(MessageType.Error, payload);

        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_StringLengthPastTheEnd_ThrowsMalformed()
    {
        var ex = Assert.Throws<ProtocolException>(() => Codec.Decode(MessageType.Admission, "00 05 61 62"));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    public static TheoryData<string, MessageType, string> BadEnumValues => new()
    {
        { "connection kind 2", MessageType.ConnectionRequest, "00 00 00 01 02 00 00 00 00" },
        { "connection kind ff", MessageType.ConnectionRequest, "00 00 00 01 ff 00 00 00 00" },
        { "target kind 2", MessageType.ServiceBeginRequest, "00 00 00 01 02 00 03 77 65 62 00 00 00" },
        { "node kind 0", MessageType.TopologyExchange, "01 00 00 01 61 00 00 " + Zeros(16) },
        { "node kind 3", MessageType.TopologyExchange, "01 03 00 01 61 00 00 " + Zeros(16) },
        { "auth stage 0", MessageType.AuthProof, "00 01 00" },
        { "auth stage 3", MessageType.AuthProof, "03 01 00" },
        { "resume proof of 5 bytes", MessageType.Resume, Zeros(16) + " 05 01 02 03 04 05 00 00 00 00 00 00 00 00 00" },
        { "resume share of 1 byte", MessageType.Resume, Zeros(16) + " 00 00 00 00 00 00 00 00 00 01 07" },
    };

    [Theory]
    [MemberData(nameof(BadEnumValues))]
    public void Decode_UndefinedDiscriminant_ThrowsMalformed(string why, MessageType type, string payloadHex)
    {
        var ex = Assert.Throws<ProtocolException>(() => Codec.Decode(type, payloadHex));

        Assert.True(ex.Code == ErrorCode.Malformed, $"{why}: {ex.Code}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    public void Decode_PairingKeyNot32Bytes_ThrowsMalformed(int keyLength)
    {
        // u8 keyLen | key | u32 slot | str endName | str user | instanceId (16) | u8 flags
        var payload = (byte[])[(byte)keyLength, .. new byte[keyLength], 0, 0, 0, 0, 0, 1, 0x61, 0, 0, .. new byte[16], 0];

        var ex = Codec.DecodeFails(MessageType.CommonUniqueInfo, payload);

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Decode_TopologyOfMoreThan32Entries_ThrowsMalformed()
    {
        var entry = Bytes.FromHex("02 00 01 6d 00 00 " + Zeros(16));
        var payload = (byte[])[33, .. Enumerable.Repeat(entry, 33).SelectMany(e => e)];

        var ex = Codec.DecodeFails(MessageType.TopologyExchange, payload);

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Decode_PropertyCountLargerThanThePayload_ThrowsMalformedWithoutAllocatingForIt()
    {
        var ex = Assert.Throws<ProtocolException>(() => Codec.Decode(MessageType.PropertyExchange, "ff ff 00 01 6b 00 01 76"));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Decode_ServiceDataWithoutAChannelId_ThrowsMalformed()
    {
        var ex = Assert.Throws<ProtocolException>(() => Codec.Decode(MessageType.ServiceData, "00 00 01"));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Decode_UnknownType_ThrowsUnknownType()
    {
        var ex = Assert.Throws<ProtocolException>(() => MessageCodec.Decode((MessageType)0x7F, ReadOnlySpan<byte>.Empty));

        Assert.Equal(ErrorCode.UnknownType, ex.Code);
    }

    [Fact]
    public void Malformed_errors_name_the_message()
    {
        var ex = Assert.Throws<ProtocolException>(() => Codec.Decode(MessageType.ServiceBeginAck, "00"));

        Assert.Contains("SERVICE_BEGIN_ACK", ex.Message, StringComparison.Ordinal);
    }

    private static string Zeros(int count) => string.Join(' ', Enumerable.Repeat("00", count));
}

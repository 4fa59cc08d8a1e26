using System.Buffers;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Protocol.Tests.Messages;

namespace Lstp.Protocol.Tests.Framing;

public class FrameCodecTests
{
    private static readonly byte[] PingFrame = new Ping(0x0102030405060708).ToFrame();

    [Fact]
    public void WriteHeader_puts_the_type_then_a_24_bit_big_endian_length()
    {
        var header = new byte[ProtocolLimits.HeaderSize];
        FrameCodec.WriteHeader(header, MessageType.Relay, 0x012345);

        Assert.Equal(new byte[] { 0x30, 0x01, 0x23, 0x45 }, header);
        Assert.Equal(0x012345, FrameCodec.ReadLength(header));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(ProtocolLimits.AbsoluteMaxPayload + 1)]
    public void WriteHeader_LengthOutside24Bits_Throws(int length)
    {
        var header = new byte[ProtocolLimits.HeaderSize];
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameCodec.WriteHeader(header, MessageType.Relay, length));
    }

    [Fact]
    public void TryReadFrame_WholeFrame_ReturnsTypeAndPayloadAndConsumesIt()
    {
        var trailing = new byte[] { 0x20, 0x00 };
        var buffer = Bytes.Sequence([.. PingFrame, .. trailing]);

        Assert.True(FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out var type, out var payload));

        Assert.Equal(MessageType.Ping, type);
        Assert.Equal(PingFrame[ProtocolLimits.HeaderSize..], payload.ToArray());
        Assert.Equal(trailing, buffer.ToArray());
    }

    [Fact]
    public void TryReadFrame_TwoFramesBackToBack_ReadsThemInOrder()
    {
        var buffer = Bytes.Sequence([.. new Ping(1).ToFrame(), .. new Pong(2).ToFrame()]);

        Assert.True(MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.DefaultMaxPayload, out var first));
        Assert.True(MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.DefaultMaxPayload, out var second));

        Assert.Equal(new Ping(1), first);
        Assert.Equal(new Pong(2), second);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_ZeroLengthPayload_IsAWholeFrame()
    {
        var buffer = Bytes.Sequence(new Relay(Array.Empty<byte>()).ToFrame());

        Assert.True(FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out var type, out var payload));
        Assert.Equal(MessageType.Relay, type);
        Assert.True(payload.IsEmpty);
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void TryReadFrame_ShortInput_ReturnsFalseAtEveryTruncationPointAndConsumesNothing(string name)
    {
        var frame = Samples.Named(name).ToFrame();
        for (var length = 0; length < frame.Length; length++)
        {
            var buffer = Bytes.Sequence(frame[..length]);
            Assert.False(FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out _, out _), $"{name} cut at {length} of {frame.Length} bytes");
            Assert.Equal(length, buffer.Length);
        }
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void TryReadFrame_FrameSplitAcrossSegments_ReadsTheSameAtEverySplit(string name)
    {
        var message = Samples.Named(name);
        var frame = message.ToFrame();
        for (var cut = 1; cut < frame.Length; cut++)
        {
            var buffer = Bytes.Split(frame, cut, Math.Min(cut + 2, frame.Length - 1));
            Assert.True(MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.DefaultMaxPayload, out var decoded), $"{name} split at {cut}");
            Assert.Equal(message, decoded);
            Assert.True(buffer.IsEmpty);
        }
    }

    [Fact]
    public void TryReadFrame_LengthOverMax_ThrowsFrameTooLarge()
    {
        var frame = new Relay(new byte[101]).ToFrame();
        var buffer = Bytes.Sequence(frame);

        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryReadFrame(ref buffer, 100, out _, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);
    }

    [Fact]
    public void TryReadFrame_LengthAtMax_IsAccepted()
    {
        var buffer = Bytes.Sequence(new Relay(new byte[100]).ToFrame());

        Assert.True(FrameCodec.TryReadFrame(ref buffer, 100, out _, out var payload));
        Assert.Equal(100, payload.Length);
    }

    [Fact]
    public void TryReadFrame_OversizedLength_ThrowsFromTheHeaderAloneWithoutWaitingForThePayload()
    {
        // A peer that announces 16 MiB must be refused at once, not after we buffered it.
        var buffer = Bytes.Sequence([(byte)MessageType.Relay, 0xff, 0xff, 0xff]);

        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out _, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);
    }

    [Fact]
    public void TryReadFrame_SetupLimit_RefusesAnythingOver16KiB()
    {
        var buffer = Bytes.Sequence(new Relay(new byte[ProtocolLimits.MaxSetupPayload + 1]).ToFrame());

        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.MaxSetupPayload, out _, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x07)]
    [InlineData(0x0F)]
    [InlineData(0x1C)]
    [InlineData(0x23)]
    [InlineData(0x3B)]
    [InlineData(0xFF)]
    public void TryReadFrame_UnknownType_ThrowsUnknownType(byte type)
    {
        var buffer = Bytes.Sequence([type, 0x00, 0x00, 0x00]);

        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out _, out _));
        Assert.Equal(ErrorCode.UnknownType, ex.Code);
    }

    [Fact]
    public void TryReadFrame_UnknownTypeInAPartialHeader_WaitsForTheWholeHeader()
    {
        var buffer = Bytes.Sequence([0xFF, 0x00]);

        Assert.False(FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out _, out _));
    }

    [Fact]
    public void Every_type_in_the_enum_is_known_and_nothing_else_is()
    {
        var defined = Enum.GetValues<MessageType>().Select(t => (byte)t).ToHashSet();
        for (var b = 0; b <= 255; b++)
        {
            Assert.Equal(defined.Contains((byte)b), MessageNames.IsKnown((byte)b));
        }
    }

    [Fact]
    public void WriteServiceDataPrefix_WritesTheSameBytesAsAServiceDataMessage()
    {
        var data = "hello"u8.ToArray();
        var frame = new byte[FrameCodec.ServiceDataPrefix + data.Length];
        FrameCodec.WriteServiceDataPrefix(frame, 7, data.Length);
        data.CopyTo(frame, FrameCodec.ServiceDataPrefix);

        Assert.Equal(new ServiceData(7, data).ToFrame(), frame);
    }

    [Fact]
    public void Write_CopiesHeaderAndPayloadIntoTheBufferWriter()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.Write(output, MessageType.Ping, PingFrame.AsSpan(ProtocolLimits.HeaderSize));

        Assert.Equal(PingFrame, output.WrittenSpan.ToArray());
    }
}

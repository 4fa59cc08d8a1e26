using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

/// <summary>The whole read path a link uses: frame header, then payload decode.</summary>
public static class Codec
{
    /// <summary>Reads exactly one frame from <paramref name="frame"/> and decodes it; fails if bytes are left over.</summary>
    public static Message ReadOne(byte[] frame, int maxPayload = ProtocolLimits.DefaultMaxPayload)
    {
        var buffer = Bytes.Sequence(frame);
        Assert.True(FrameCodec.TryReadFrame(ref buffer, maxPayload, out var type, out var payload), "the frame should be whole");
        Assert.True(buffer.IsEmpty, "nothing should follow the frame");
        return MessageCodec.Decode(type, payload);
    }

    /// <summary>Decodes a payload given as hex for a type, for hand-made malformed inputs.</summary>
    public static Message Decode(MessageType type, string payloadHex) => MessageCodec.Decode(type, Bytes.FromHex(payloadHex));

    public static ProtocolException DecodeFails(MessageType type, byte[] payload) =>
        Assert.Throws<ProtocolException>(() => MessageCodec.Decode(type, payload));
}

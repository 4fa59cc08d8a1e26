using FsCheck;
using FsCheck.Fluent;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

public class MessageProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(2000);

    [Fact]
    public void The_generator_produces_every_message_type()
    {
        var sample = Gen.Sample(MessageGen.Any, 3000);
        var seen = sample.Select(m => m.Type).ToHashSet();

        Assert.Equal(3000, sample.Length);

        Assert.Equal(Enum.GetValues<MessageType>().Order(), seen.Order());
    }

    [Fact]
    public void Random_messages_round_trip()
    {
        Check.One(Runs, Prop.ForAll(Arb.From(MessageGen.Any), message =>
        {
            var frame = message.ToFrame();
            var decoded = Codec.ReadOne(frame);
            return decoded.Equals(message) && decoded.ToFrame().AsSpan().SequenceEqual(frame);
        }));
    }

    [Fact]
    public void Random_messages_round_trip_when_split_into_segments_anywhere()
    {
        var gen = from message in MessageGen.Any
                  from a in Gen.Choose(0, 1000)
                  from b in Gen.Choose(0, 1000)
                  select (message, a, b);
        Check.One(Runs, Prop.ForAll(Arb.From(gen), c =>
        {
            var frame = c.message.ToFrame();
            var buffer = Bytes.Split(frame, c.a % frame.Length, c.b % frame.Length);
            return MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.DefaultMaxPayload, out var decoded)
                && buffer.IsEmpty
                && c.message.Equals(decoded);
        }));
    }

    [Fact]
    public void A_stream_of_random_messages_reads_back_in_order()
    {
        var gen = MessageGen.Any.ListOf().Select(l => l.ToArray());
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), Prop.ForAll(Arb.From(gen), messages =>
        {
            var buffer = Bytes.Sequence([.. messages.SelectMany(m => m.ToFrame())]);
            var read = new List<Message>();
            while (MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.DefaultMaxPayload, out var m)) read.Add(m!);
            return buffer.IsEmpty && read.SequenceEqual(messages);
        }));
    }

    /// <summary>Bytes that look like frames often enough to get past the header: a known type half the time, small lengths.</summary>
    private static readonly Gen<byte[]> FrameLikeBytes =
        from type in Gen.OneOf(Gen.Elements(Enum.GetValues<MessageType>()).Select(t => (byte)t), MessageGen.AnyByte)
        from length in Gen.OneOf(Gen.Choose(0, 64), Gen.Choose(0, ProtocolLimits.AbsoluteMaxPayload))
        from body in MessageGen.SomeBytes
        select (byte[])[type, (byte)(length >> 16), (byte)(length >> 8), (byte)length, .. body];

    [Fact]
    public void Random_bytes_never_throw_anything_but_ProtocolException()
    {
        var gen = Gen.OneOf(MessageGen.SomeBytes, FrameLikeBytes);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(5000), Prop.ForAll(Arb.From(gen), bytes =>
        {
            try
            {
                var preamble = Bytes.Sequence(bytes);
                Preamble.TryRead(ref preamble, out _);
            }
            catch (ProtocolException)
            {
            }
            try
            {
                var buffer = Bytes.Sequence(bytes);
                while (FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out var type, out var payload))
                {
                    MessageCodec.Decode(type, payload);
                }
            }
            catch (ProtocolException)
            {
            }
            // Any other exception escapes and fails the property, with the bytes shown by FsCheck.
        }));
    }

    [Fact]
    public void Random_payloads_for_every_type_decode_or_throw_only_ProtocolException()
    {
        var gen = from type in Gen.Elements(Enum.GetValues<MessageType>())
                  from payload in MessageGen.SomeBytes
                  select (type, payload);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(5000), Prop.ForAll(Arb.From(gen), c =>
        {
            try
            {
                var message = MessageCodec.Decode(c.type, c.payload);
                // Whatever decodes must be exactly what it re-encodes to.
                Assert.Equal(c.payload, message.ToFrame()[ProtocolLimits.HeaderSize..]);
            }
            catch (ProtocolException ex)
            {
                Assert.Equal(ErrorCode.Malformed, ex.Code);
            }
        }));
    }
}

using System.Buffers;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Fuzzing;

/// <summary>
/// Feeds one input to everything that reads untrusted bytes: <see cref="Preamble.TryRead"/>, then
/// <see cref="FrameCodec.TryReadFrame"/> and <see cref="MessageCodec.Decode"/> frame after frame, at the
/// link's setup limit and at the default limit, as one segment and as two. The only allowed outcomes are a
/// decoded message, "need more bytes" and <see cref="ProtocolException"/>; anything else escapes to the caller.
/// Whatever decodes must also re-encode to exactly the bytes it came from (the codec has one spelling per message).
/// </summary>
public static class FrameHarness
{
    public static void Run(byte[] input)
    {
        var whole = Bytes.Sequence(input);
        var split = Bytes.Split(input, input.Length / 2);
        foreach (var sequence in (ReadOnlySequence<byte>[])[whole, split])
        {
            try
            {
                var afterPreamble = sequence;
                if (Preamble.TryRead(ref afterPreamble, out _)) ReadFrames(afterPreamble, ProtocolLimits.MaxSetupPayload);
            }
            catch (ProtocolException)
            {
            }
            foreach (var limit in (int[])[ProtocolLimits.MaxSetupPayload, ProtocolLimits.DefaultMaxPayload])
            {
                try
                {
                    ReadFrames(sequence, limit);
                }
                catch (ProtocolException)
                {
                }
            }
        }
    }

    private static void ReadFrames(ReadOnlySequence<byte> buffer, int limit)
    {
        while (FrameCodec.TryReadFrame(ref buffer, limit, out var type, out var payload))
        {
            var message = MessageCodec.Decode(type, payload);
            var again = message.ToFrame();
            if (again[0] != (byte)type || !again.AsSpan(ProtocolLimits.HeaderSize).SequenceEqual(payload.ToArray()))
            {
                throw new InvalidOperationException($"{MessageNames.Of(type)} decoded but re-encoded differently: {Bytes.Hex(again)}");
            }
        }
    }
}

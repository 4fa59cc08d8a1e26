using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

/// <summary>
/// The encoder must not write what the decoder cannot read back: a fixed-size field of the wrong size, a count
/// that does not fit its byte, or a string that is not Unicode either throws at <c>ToFrame</c> or round-trips.
/// </summary>
public class EncoderTests
{
    private static readonly Dictionary<string, Func<Message>> Unreadable = new()
    {
        ["instance id of 15 bytes"] = () => new CommonUniqueInfo(Samples.PairingKey, 0, "a", "", new byte[15], SetupFlags.None),
        ["pairing key of 31 bytes"] = () => new CommonUniqueInfo(new byte[31], 0, "a", "", Samples.EndAId, SetupFlags.None),
        ["node id of 17 bytes"] = () => new TopologyExchange([Samples.EndA with { NodeId = new byte[17] }]),
        ["33 topology entries"] = () => new TopologyExchange([.. Enumerable.Repeat(Samples.Middle, ProtocolLimits.MaxTopologyEntries + 1)]),
        ["256 topology entries, whose count byte wraps to 0"] = () => new TopologyExchange([.. Enumerable.Repeat(Samples.Middle, 256)]),
        ["a lone surrogate in a string"] = () => new Error(ErrorCode.Internal, "bad \uD800 text"),
    };

    public static TheoryData<string> UnreadableCases => [.. Unreadable.Keys];

    [Theory]
    [MemberData(nameof(UnreadableCases))]
    public void ToFrame_never_writes_a_frame_that_does_not_decode_to_the_same_message(string why)
    {
        var message = Unreadable[why]();
        byte[] frame;
        try
        {
            frame = message.ToFrame();
        }
        catch (ArgumentException)
        {
            return; // refusing to encode is a correct answer
        }

        var problem = Record.Exception(() => Codec.ReadOne(frame)) is { } error
            ? $"decoding it threw {error.GetType().Name}: {error.Message}"
            : Codec.ReadOne(frame).Equals(message) ? null : "it decoded to a different message";
        Assert.True(problem is null, $"{why}: ToFrame wrote {frame.Length} bytes, but {problem}");
    }
}

using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Protocol.Tests.Messages;

public class RoundTripTests
{
    [Fact]
    public void Samples_cover_every_message_type()
    {
        var covered = Samples.Messages.Select(s => s.Message.Type).ToHashSet();
        var missing = Enum.GetValues<MessageType>().Where(t => !covered.Contains(t)).Select(MessageNames.Of).ToList();

        Assert.True(missing.Count == 0, $"no sample for {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void Every_message_decodes_to_an_equal_message(string name)
    {
        var message = Samples.Named(name);

        var decoded = Codec.ReadOne(message.ToFrame());

        Assert.Equal(message.Type, decoded.Type);
        Assert.Equal(message, decoded);
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void Every_message_reencodes_to_the_same_bytes(string name)
    {
        var frame = Samples.Named(name).ToFrame();

        Assert.Equal(frame, Codec.ReadOne(frame).ToFrame());
    }

    [Theory]
    [MemberData(nameof(Samples.MessageNames), MemberType = typeof(Samples))]
    public void Every_frame_header_carries_the_type_and_the_payload_length(string name)
    {
        var message = Samples.Named(name);
        var frame = message.ToFrame();

        Assert.Equal((byte)message.Type, frame[0]);
        Assert.Equal(frame.Length - ProtocolLimits.HeaderSize, (frame[1] << 16) | (frame[2] << 8) | frame[3]);
    }

    [Fact]
    public void Integers_are_big_endian()
    {
        Assert.Equal("20 00 00 08 01 02 03 04 05 06 07 08", Bytes.Hex(new Ping(0x0102030405060708).ToFrame()));
        Assert.Equal("31 00 00 04 00 00 02 58", Bytes.Hex(new Waiting(600).ToFrame()));
    }

    [Fact]
    public void Strings_are_a_u16_byte_count_then_UTF8()
    {
        // "é" is two UTF-8 bytes: the count is bytes, not characters.
        Assert.Equal("04 00 00 04 00 02 c3 a9", Bytes.Hex(new Admission("é").ToFrame()));
    }

    [Fact]
    public void A_string_of_65535_bytes_round_trips()
    {
        var longest = new string('x', ushort.MaxValue);

        Assert.Equal(new Admission(longest), Codec.ReadOne(new Admission(longest).ToFrame()));
    }

    [Fact]
    public void ToFrame_RefusesAStringOver65535Bytes()
    {
        Assert.Throws<ArgumentException>(() => new Admission(new string('x', ushort.MaxValue + 1)).ToFrame());
    }

    [Fact]
    public void ServiceData_of_a_full_64KiB_chunk_round_trips()
    {
        var data = new byte[ProtocolLimits.ServiceDataChunk];
        new Random(1).NextBytes(data);
        var message = new ServiceData(uint.MaxValue, data);

        var frame = message.ToFrame();

        Assert.Equal(FrameCodec.ServiceDataPrefix + data.Length, frame.Length);
        Assert.Equal(message, Codec.ReadOne(frame));
    }

    [Fact]
    public void Unknown_error_codes_are_carried_as_numbers()
    {
        // A newer peer may send a code this build does not name; it must still arrive intact.
        var message = new Error((ErrorCode)4242, "from the future");

        Assert.Equal(message, Codec.ReadOne(message.ToFrame()));
    }

    [Fact]
    public void Unknown_flag_bits_are_carried_and_ignored()
    {
        // Undefined bits do not make a frame malformed (docs/protocol.md §4): the receiver tests only the bits it knows.
        var free = (ServiceFreeRequest)Codec.Decode(MessageType.ServiceFreeRequest, "00 00 00 01 fe");
        var begin = (ServiceBeginRequest)Codec.Decode(MessageType.ServiceBeginRequest, "00 00 00 01 00 00 01 77 00 00 80");

        Assert.False(free.Flags.HasFlag(FreeFlags.Abort));
        Assert.Equal((BeginOptions)0x80, begin.Options);
    }

    [Fact]
    public void TopologyExchange_Append_adds_the_entry_at_the_end_and_refuses_past_32()
    {
        var path = new TopologyExchange([Samples.EndA]).Append(Samples.Middle);
        Assert.Equal([Samples.EndA, Samples.Middle], path.Entries);

        var full = new TopologyExchange([.. Enumerable.Repeat(Samples.Middle, ProtocolLimits.MaxTopologyEntries)]);
        var ex = Assert.Throws<ProtocolException>(() => full.Append(Samples.Middle));
        Assert.Equal(ErrorCode.ProtocolViolation, ex.Code);
    }

    [Fact]
    public void TopologyExchange_of_32_entries_round_trips()
    {
        var full = new TopologyExchange([.. Enumerable.Repeat(Samples.Middle, ProtocolLimits.MaxTopologyEntries)]);

        Assert.Equal(full, Codec.ReadOne(full.ToFrame()));
    }

    [Fact]
    public void PropertyExchange_keeps_order_and_repeated_keys()
    {
        var message = (PropertyExchange)Samples.Named("property-exchange");
        var withTwoServices = new PropertyExchange([.. message.Properties, new("service", "ssh")]);

        var decoded = (PropertyExchange)Codec.ReadOne(withTwoServices.ToFrame());

        Assert.Equal(["web", "ssh"], decoded.GetAll("service"));
        Assert.Equal("1", decoded.Get("version"));
        Assert.Null(decoded.Get("nonexistent"));
    }

    [Fact]
    public void CommonKey_names_the_pairing_key_and_slot_only()
    {
        var a = (CommonUniqueInfo)Samples.Named("commonunique-info");
        var sameTunnelOtherEnd = a with { EndName = "b", User = "bob", InstanceId = Samples.EndBId };

        Assert.Equal(a.CommonKey, sameTunnelOtherEnd.CommonKey);
        Assert.NotEqual(a.CommonKey, (a with { Slot = 1 }).CommonKey);
        Assert.EndsWith("/0", a.CommonKey, StringComparison.Ordinal);
    }

    [Fact]
    public void Admission_never_shows_its_token_in_ToString()
    {
        Assert.DoesNotContain("s3cret", Samples.Named("admission").ToString(), StringComparison.Ordinal);
    }
}

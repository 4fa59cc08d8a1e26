using System.Buffers;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Xunit;

namespace Lstp.Tunnel.Tests.Channels;

public sealed class InboundRecordTests
{
    [Fact]
    public void A_record_reads_back_as_written_with_its_kind_flags_lengths_and_payload()
    {
        var bytes = new byte[InboundRecord.HeaderSize + 3 + InboundRecord.HeaderSize + 2];
        InboundRecord.WriteHeader(bytes, compressed: true, CompressedFlags.NewStream, 3, 4000);
        bytes[8] = 1; bytes[9] = 2; bytes[10] = 3;
        InboundRecord.WriteHeader(bytes.AsSpan(11), compressed: false, CompressedFlags.None, 2, 2);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(InboundRecord.TryRead(ref buffer, out var compressed, out var flags, out var application, out var payload));
        Assert.True(compressed);
        Assert.Equal(CompressedFlags.NewStream, flags);
        Assert.Equal(4000, application);
        Assert.Equal(new byte[] { 1, 2, 3 }, payload.ToArray());
        Assert.True(InboundRecord.TryRead(ref buffer, out compressed, out _, out application, out payload));
        Assert.False(compressed);
        Assert.Equal(2, application);
        Assert.Equal(2, payload.Length);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_record_that_has_not_fully_arrived_is_left_in_the_buffer()
    {
        var bytes = new byte[InboundRecord.HeaderSize + 10];
        InboundRecord.WriteHeader(bytes, compressed: false, CompressedFlags.None, 10, 10);
        var buffer = new ReadOnlySequence<byte>(bytes, 0, bytes.Length - 1);

        Assert.False(InboundRecord.TryRead(ref buffer, out _, out _, out _, out _));
        Assert.Equal(bytes.Length - 1, buffer.Length);
    }

    [Fact]
    public void A_64KiB_payload_fits_the_length_field()
    {
        var bytes = new byte[InboundRecord.HeaderSize + 65536];
        InboundRecord.WriteHeader(bytes, compressed: false, CompressedFlags.None, 65536, 65536);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(InboundRecord.TryRead(ref buffer, out _, out _, out _, out var payload));
        Assert.Equal(65536, payload.Length);
    }
}

using System.Buffers.Binary;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Xunit;

namespace Lstp.Tunnel.Tests.Link;

/// <summary>The tunnel's frame reader: payloads read in pieces, straight into the destination or through its buffer.</summary>
public sealed class FrameStreamReaderTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(1000, 0)]
    [InlineData(16 * 1024, FrameStreamReader.TunnelDirectRead)] // a TLS record's worth per read, as SslStream returns
    [InlineData(16 * 1024, 0)]
    [InlineData(100_000, FrameStreamReader.TunnelDirectRead)]
    [InlineData(100_000, 0)]
    public async Task SERVICE_DATA_of_any_size_arrives_whole_and_in_order_however_the_stream_splits_it(int mostPerRead, int directReadAtLeast)
    {
        for (var seed = 0; seed < 5; seed++)
        {
            var random = new Random(seed);
            var sent = Enumerable.Range(0, 40).Select(i => Payload(random, i)).ToList();
            var reader = new FrameStreamReader(new Trickle(Wire(sent), mostPerRead, random), directReadAtLeast: directReadAtLeast);

            foreach (var (channel, data) in sent)
            {
                await ReadPrefixAsync(reader, channel, data.Length);
                // Destinations larger and smaller than the payload, as the channel's pooled arrays and a skip's scratch are.
                var received = new byte[data.Length];
                var destination = new byte[random.Next(1, 2 * ProtocolLimits.ServiceDataChunk)];
                for (var got = 0; got < data.Length;)
                {
                    var n = await reader.ReadPayloadAsync(destination, data.Length - got, CancellationToken.None);
                    Assert.InRange(n, 1, data.Length - got);
                    destination.AsSpan(0, n).CopyTo(received.AsSpan(got));
                    got += n;
                }
                Assert.Equal(data, received);
            }
            Assert.Null(await reader.ReadHeaderAsync(ProtocolLimits.ServiceDataChunk + 4, CancellationToken.None));
        }
    }

    [Theory]
    [InlineData(1_000, 0)] // never enough buffered to be worth lending
    [InlineData(16 * 1024, 12)] // a TLS record's worth per read, a random part of it
    [InlineData(200_000, 30)] // more than a frame per read, as a plaintext link gives
    public async Task A_lending_reader_hands_large_payloads_over_in_its_own_buffer_and_every_frame_arrives_whole(int mostPerRead, int leastLent)
    {
        var lent = 0;
        for (var seed = 0; seed < 5; seed++)
        {
            var random = new Random(seed);
            var sent = Enumerable.Range(0, 40).Select(i => Payload(random, i)).ToList();
            var reader = new FrameStreamReader(new Trickle(Wire(sent), mostPerRead, random), directReadAtLeast: FrameStreamReader.TunnelDirectRead, lendsPayloads: true);
            var arrays = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);

            foreach (var (channel, data) in sent)
            {
                await ReadPrefixAsync(reader, channel, data.Length);
                if (await reader.TakePayloadAsync(data.Length, CancellationToken.None) is { } taken)
                {
                    // The payload stays where it was read; the reader goes on in another array, never this one again.
                    Assert.True(data.Length > FrameStreamReader.DefaultBufferSize / 2, $"a {data.Length}-byte payload was lent: a copy would have taken a smaller array");
                    Assert.True(arrays.Add(taken.Array), "an array was lent twice");
                    Assert.Equal(data, taken.Array.AsSpan(taken.Offset, data.Length).ToArray());
                    lent++;
                    continue;
                }
                var received = new byte[data.Length];
                for (var got = 0; got < data.Length;) got += await reader.ReadPayloadAsync(received.AsMemory(got), data.Length - got, CancellationToken.None);
                Assert.Equal(data, received);
            }
            Assert.Null(await reader.ReadHeaderAsync(ProtocolLimits.ServiceDataChunk + 4, CancellationToken.None));
        }
        // Of the 200 payloads about 75 are over half the buffer, the ones a lending reader may lend (seeds 0-4 lend 18
        // at 16 KiB per read, 39 at 200,000: a large payload whose header follows a small frame's is copied).
        if (leastLent == 0) Assert.Equal(0, lent);
        else Assert.True(lent >= leastLent, $"only {lent} of the large payloads were lent");
    }

    [Fact]
    public void A_lending_reader_s_buffer_is_a_size_the_shared_pool_keeps()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FrameStreamReader(new MemoryStream(), 100_000, lendsPayloads: true));
    }

    /// <summary>The SERVICE_DATA frames of <paramref name="sent"/> back to back, as a tunnel's stream carries them.</summary>
    private static byte[] Wire(IEnumerable<(uint Channel, byte[] Data)> sent)
    {
        var wire = new MemoryStream();
        foreach (var (channel, data) in sent)
        {
            var prefix = new byte[FrameCodec.ServiceDataPrefix];
            FrameCodec.WriteServiceDataPrefix(prefix, channel, data.Length);
            wire.Write(prefix);
            wire.Write(data);
        }
        return wire.ToArray();
    }

    /// <summary>Reads a SERVICE_DATA header and channel id, as the tunnel's reader does, and checks them.</summary>
    private static async Task ReadPrefixAsync(FrameStreamReader reader, uint channel, int length)
    {
        var header = await reader.ReadHeaderAsync(ProtocolLimits.ServiceDataChunk + 4, CancellationToken.None);
        Assert.Equal((MessageType.ServiceData, length + 4), header);
        var id = new byte[4];
        for (var got = 0; got < 4;) got += await reader.ReadPayloadAsync(id.AsMemory(got), 4 - got, CancellationToken.None);
        Assert.Equal(channel, BinaryPrimitives.ReadUInt32BigEndian(id));
    }

    private static (uint Channel, byte[] Data) Payload(Random random, int i)
    {
        var size = random.Next(4) switch
        {
            0 => random.Next(0, 64),
            1 => random.Next(FrameStreamReader.TunnelDirectRead - 2, FrameStreamReader.TunnelDirectRead + 2),
            2 => random.Next(64, ProtocolLimits.ServiceDataChunk),
            _ => ProtocolLimits.ServiceDataChunk - FrameCodec.ServiceDataPrefix,
        };
        var data = new byte[size];
        random.NextBytes(data);
        return ((uint)(i * 2 + 1), data);
    }

    /// <summary>A stream that returns at most a random 1..<c>most</c> bytes per read.</summary>
    private sealed class Trickle(byte[] data, int most, Random random) : MemoryStream(data, writable: false)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, random.Next(1, most + 1))], cancellationToken);
    }
}

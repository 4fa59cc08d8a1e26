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
            var wire = new MemoryStream();
            foreach (var (channel, data) in sent)
            {
                var prefix = new byte[FrameCodec.ServiceDataPrefix];
                FrameCodec.WriteServiceDataPrefix(prefix, channel, data.Length);
                wire.Write(prefix);
                wire.Write(data);
            }
            var reader = new FrameStreamReader(new Trickle(wire.ToArray(), mostPerRead, random), directReadAtLeast: directReadAtLeast);

            foreach (var (channel, data) in sent)
            {
                var header = await reader.ReadHeaderAsync(ProtocolLimits.ServiceDataChunk + 4, CancellationToken.None);
                Assert.Equal((MessageType.ServiceData, data.Length + 4), header);
                var id = new byte[4];
                for (var got = 0; got < 4;) got += await reader.ReadPayloadAsync(id.AsMemory(got), 4 - got, CancellationToken.None);
                Assert.Equal(channel, BinaryPrimitives.ReadUInt32BigEndian(id));
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

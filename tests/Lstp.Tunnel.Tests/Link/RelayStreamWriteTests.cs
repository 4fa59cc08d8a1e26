using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Tests.Actors;
using Xunit;

namespace Lstp.Tunnel.Tests.Link;

/// <summary>How a paired link's writes become RELAY frames, over real loopback sockets.</summary>
public sealed class RelayStreamWriteTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_large_write_with_nothing_buffered_is_sent_as_frames_of_its_own_and_small_ones_are_gathered()
    {
        var (ours, theirs) = await LinkAsync();
        await using var relay = new RelayStream(ours, new FrameStreamReader(ours), LinkTimings.Default, TimeProvider.System);
        var random = new Random(3);
        var written = new MemoryStream();
        async Task WriteAsync(int length)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            written.Write(bytes);
            await relay.WriteAsync(bytes);
        }

        await WriteAsync(100);
        await relay.FlushAsync();
        await WriteAsync(300_000); // a whole frame of 256 KiB sent as it is; the rest (under 128 KiB) buffered
        await WriteAsync(5_000); // joins it
        await relay.FlushAsync();
        await WriteAsync(200_000); // large, nothing buffered: a frame of its own
        await WriteAsync(10_000); // buffered
        await WriteAsync(150_000); // large, but after buffered bytes: joins them
        await relay.FlushAsync();
        ours.Socket.Shutdown(SocketShutdown.Send);

        var (frames, payload) = await ReadRelayFramesAsync(theirs).WaitAsync(Patience);
        // Copied into one buffer, the same writes made 100, 262144, 42856, 262144 and 97856.
        Assert.Equal([100, RelayStream.MaxRelayPayload, 300_000 - RelayStream.MaxRelayPayload + 5_000, 200_000, 160_000], frames);
        Assert.True(written.ToArray().AsSpan().SequenceEqual(payload), "the RELAY payloads differ from what was written");
        Assert.Equal(written.Length, relay.BytesSent);
    }

    [Fact]
    public async Task A_large_write_cancelled_while_the_link_is_full_stops_and_closes_the_link()
    {
        var (ours, theirs) = await LinkAsync();
        await using var relay = new RelayStream(ours, new FrameStreamReader(ours), LinkTimings.Default, TimeProvider.System);
        var bulk = new byte[RelayStream.MaxRelayPayload];
        using var cancel = new CancellationTokenSource();
        // Nobody reads the other side: sooner or later a send waits for room, and then the write is cancelled.
        for (var i = 0; ; i++)
        {
            Assert.True(i < 10_000, "the link never filled up");
            var write = relay.WriteAsync(bulk, cancel.Token).AsTask();
            if (write.IsCompleted)
            {
                await write;
                continue;
            }
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(Patience));
            break;
        }
        // The frame cut short spoilt the link: it was closed, so the peer's reads end instead of waiting for the rest.
        var buffer = new byte[1 << 20];
        var ended = false;
        try
        {
            while (await theirs.ReadAsync(buffer).AsTask().WaitAsync(Patience) > 0) { }
            ended = true;
        }
        catch (IOException)
        {
            ended = true; // a reset is as good as the end here
        }
        Assert.True(ended);
    }

    private static async Task<(List<int> Frames, byte[] Payload)> ReadRelayFramesAsync(Stream link)
    {
        var frames = new List<int>();
        var payload = new MemoryStream();
        var header = new byte[ProtocolLimits.HeaderSize];
        while (await link.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false) == header.Length)
        {
            var (type, length) = ((MessageType)header[0], FrameCodec.ReadLength(header));
            var body = new byte[length];
            await link.ReadExactlyAsync(body);
            if (type != MessageType.Relay) continue; // a keepalive, had one come due
            frames.Add(length);
            payload.Write(body);
        }
        return (frames, payload.ToArray());
    }

    private static async Task<(NetworkStream Ours, NetworkStream Theirs)> LinkAsync()
    {
        var (ours, theirs) = await SocketPair.CreateAsync();
        return (new NetworkStream(ours, ownsSocket: true), new NetworkStream(theirs, ownsSocket: true));
    }
}

using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Streams;
using Lstp.Tunnel.Tests.Actors;
using Xunit;

namespace Lstp.Tunnel.Tests.Link;

/// <summary>
/// A plaintext end's link moved into a pipe (<see cref="ResumableStream.MoveIntoAsync"/>, splice(2)) gives the RELAY
/// payloads in order and nothing else: link frames between them are answered as on the reading path, bytes already
/// read into memory go first, and each byte moved is counted as received.
/// </summary>
public sealed class RelaySpliceTests
{
    [Fact]
    public async Task Relay_payloads_are_moved_into_a_pipe_in_order_around_link_frames_and_counted_as_received()
    {
        Assert.True(OperatingSystem.IsLinux(), "splice(2) is Linux's; the product's tests run on Linux");
        var (middle, end) = await SocketPair.CreateAsync();
        using var middleSide = middle;
        var random = new Random(11);
        var first = new byte[100_000];
        var second = new byte[60_000];
        random.NextBytes(first);
        random.NextBytes(second);

        var link = new NetworkStream(end, ownsSocket: true);
        await using var relay = new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, TimeProvider.System) { Splicing = true };
        await using var stream = new ResumableStream(relay, [], resumable: false, TimeSpan.Zero, TimeProvider.System);
        using var pipe = KernelPipe.Rent(1024 * 1024)!;

        // What the middle sends: a payload, a PING (answered by the end, not moved), a second payload, then the
        // middle's end of the stream (ERROR PeerGone).
        var wire = new MemoryStream();
        wire.Write(Frame(MessageType.Relay, first));
        wire.Write(new Ping(42).ToFrame());
        wire.Write(Frame(MessageType.Relay, second));
        wire.Write(new Error(ErrorCode.PeerGone, "the peer left").ToFrame());
        await middleSide.SendAsync(wire.ToArray(), SocketFlags.None);

        // The first bytes are read the usual way (the tunnel reader's header), the rest moved.
        var head = new byte[12];
        Assert.Equal(12, await stream.ReadAsync(head));
        var moved = 0;
        while (true)
        {
            var n = await stream.MoveIntoAsync(pipe, 1024 * 1024, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (n == 0) break;
            Assert.True(n > 0, $"MoveIntoAsync answered {n}");
            moved += n;
        }
        Assert.Equal(first.Length + second.Length - head.Length, moved);
        Assert.Equal(first.Length + second.Length, stream.Received);
        Assert.Equal(moved, pipe.Held);

        var piped = new byte[moved];
        for (var got = 0; got < moved;) got += SocketSplice.Read(pipe, piped.AsSpan(got));
        Assert.Equal(first.Concat(second).ToArray(), head.Concat(piped).ToArray());
        Assert.Equal(0, pipe.Held);

        // The PING between the payloads was answered.
        var pong = new byte[ProtocolLimits.HeaderSize + 8];
        for (var got = 0; got < pong.Length;) got += await middleSide.ReceiveAsync(pong.AsMemory(got), SocketFlags.None);
        Assert.Equal(new Pong(42).ToFrame(), pong);
    }

    private static byte[] Frame(MessageType type, byte[] payload)
    {
        var frame = new byte[ProtocolLimits.HeaderSize + payload.Length];
        FrameCodec.WriteHeader(frame, type, payload.Length);
        payload.CopyTo(frame, ProtocolLimits.HeaderSize);
        return frame;
    }
}

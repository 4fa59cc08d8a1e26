using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Links;

/// <summary>
/// The middle moves the rest of a large RELAY frame from link to link in the kernel (splice) when neither link has
/// TLS at the middle: what arrives is what was sent, byte for byte, whether the frame comes in parts, the receiving
/// end stops reading, or small frames (copied) sit between large ones (spliced).
/// </summary>
public sealed class SpliceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private MiddleHost _middle = null!;

    public async Task InitializeAsync() =>
        _middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information));

    public async Task DisposeAsync() => await _middle.DisposeAsync();

    [Fact]
    public async Task Frames_of_every_size_arrive_intact_while_the_receiving_end_stops_reading_and_the_large_ones_are_spliced()
    {
        var (sender, receiver) = await PairAsync(TcpDialer.Instance);
        // More than the kernel's buffers on the way hold (the receiver's and the middle's sockets): with the receiver
        // not reading, the middle's splice must find its socket full and wait for room.
        var data = RandomNumberGenerator.GetBytes(40 * 1024 * 1024);
        var sizes = new Random(15);
        var send = Task.Run(async () =>
        {
            var offset = 0;
            while (offset < data.Length)
            {
                // Each flush is one RELAY frame: tiny, small (copied whole) or large (spliced past its first read).
                var size = sizes.Next(3) switch
                {
                    0 => sizes.Next(1, 1024),
                    1 => sizes.Next(1024, 8 * 1024),
                    _ => sizes.Next(8 * 1024, RelayStream.MaxRelayPayload + 1),
                };
                size = Math.Min(size, data.Length - offset);
                await sender.WriteAsync(data.AsMemory(offset, size));
                await sender.FlushAsync();
                offset += size;
            }
        });

        await Eventually.TrueAsync(() => _middle.Node.Metrics.SpliceRoomWaits > 0, "the middle's splice waits for room at the receiver", TimeSpan.FromSeconds(60));
        var received = await ReadAsync(receiver, data.Length);
        await send.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(data.AsSpan().SequenceEqual(received), $"received {received.Length} of {data.Length} bytes, or altered");
        var spliced = _middle.Node.Metrics.BytesSpliced;
        output.WriteLine($"relayed {_middle.Node.Metrics.BytesRelayed} bytes, {spliced} of them spliced; {_middle.Node.Metrics.SpliceRoomWaits} waits for room");
        Assert.InRange(spliced, data.Length / 4, data.Length - 1);
    }

    [Fact]
    public async Task A_large_frame_whose_rest_comes_later_is_spliced_as_it_arrives_and_arrives_whole()
    {
        var held = new HeldBackDialer(firstPart: 24 * 1024);
        var (sender, receiver) = await PairAsync(held);
        var before = _middle.Node.Metrics.BytesSpliced;
        var (frame, send) = await SendHeldBackFrameAsync(sender);
        Assert.False(send.IsCompleted);
        held.Release();
        var received = await ReadAsync(receiver, frame.Length);
        await send.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(frame.AsSpan().SequenceEqual(received), "the frame arrived altered");
        Assert.True(_middle.Node.Metrics.BytesSpliced - before > 150 * 1024, $"spliced {_middle.Node.Metrics.BytesSpliced - before} bytes of the 200 KiB frame");
    }

    [Fact]
    public async Task A_link_that_dies_inside_a_frame_resets_its_peer_instead_of_ending_the_frame_with_an_error()
    {
        // An ERROR(PeerGone) written after part of a frame would be read by the other end as the rest of its payload:
        // counted as tunnel bytes, it breaks the resume that the other end's lost link should lead to.
        var held = new HeldBackDialer(firstPart: 24 * 1024);
        var (sender, receiver) = await PairAsync(held);
        var (frame, send) = await SendHeldBackFrameAsync(sender);
        held.Reset();

        var received = new byte[frame.Length];
        var got = 0;
        var ended = await Record.ExceptionAsync(async () =>
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int n;
            while ((n = await receiver.ReadAsync(received.AsMemory(got), deadline.Token)) > 0) got += n;
        });

        Assert.True(ended is IOException or Lstp.Protocol.ProtocolException, $"the receiver's link ended with {ended?.GetType().Name ?? "a clean end of stream"}: {ended?.Message}");
        Assert.Null(receiver.PeerLeft);
        Assert.InRange(got, 0, frame.Length - 1);
        Assert.True(frame.AsSpan(0, got).SequenceEqual(received.AsSpan(0, got)), "what the receiver read is not the frame's own bytes");
        await Eventually.TrueAsync(() => _middle.Node.Tunnels.Count == 0, "the middle drops the tunnel");
        Assert.NotNull(await Record.ExceptionAsync(() => send.WaitAsync(TimeSpan.FromSeconds(10))));
    }

    /// <summary>
    /// Sends a 200 KiB frame over a link whose dialer holds its rest back, and returns once the middle has spliced the
    /// first part past its first read (it then waits in the kernel for the rest).
    /// </summary>
    private async Task<(byte[] Frame, Task Send)> SendHeldBackFrameAsync(RelayStream sender)
    {
        var frame = RandomNumberGenerator.GetBytes(200 * 1024);
        var before = _middle.Node.Metrics.BytesSpliced;
        var send = Task.Run(async () =>
        {
            await sender.WriteAsync(frame);
            await sender.FlushAsync();
        });
        await Eventually.TrueAsync(() => _middle.Node.Metrics.BytesSpliced > before, "the first part of the frame is spliced");
        return (frame, send);
    }

    private async Task<(RelayStream Sender, RelayStream Receiver)> PairAsync(IDialer senderDialer)
    {
        var secret = TunnelSecret.FromPassphrase("splice");
        var a = new EndSetup(secret, "sender", "u", Plaintext: true);
        var b = new EndSetup(secret, "receiver", "u", Plaintext: true);
        var registerA = MiddleLink.RegisterAsync(senderDialer, _middle.LinkAddress, a.Info(), a.Topology("a"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (receiver, _) = await MiddleLink.RegisterAsync(TcpDialer.Instance, _middle.LinkAddress, b.Info(), b.Topology("b"), null, LinkTimings.Default, TimeProvider.System, null, CancellationToken.None);
        var (sender, _) = await registerA.WaitAsync(TimeSpan.FromSeconds(10));
        return (sender, receiver);
    }

    private static async Task<byte[]> ReadAsync(RelayStream from, int length)
    {
        var received = new byte[length];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await from.ReadExactlyAsync(received, deadline.Token);
        return received;
    }
}

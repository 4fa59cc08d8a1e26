using System.Net.Sockets;
using Lstp.Testing;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Compression;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Compression;

/// <summary>Whole tunnels on loopback that compress: data arrives intact, small writes are not held back, memory stays bounded.</summary>
public sealed class CompressedChannelTests(ITestOutputHelper output)
{
    public static TheoryData<string> Kinds() => new("text", "random", "gzipped");

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Data_crosses_a_compressing_tunnel_intact_both_ways(string kind)
    {
        var data = kind switch { "text" => Corpora.Text(4 << 20), "random" => Corpora.Random(4 << 20), _ => Corpora.Gzipped(4 << 20) };
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Warning), new Dictionary<string, string> { ["echo"] = echo.Address });
        var (client, server) = await rig.OpenAsync();

        var back = await Echo.RoundTripAsync(rig.ForwardPort("echo"), data);

        Assert.True(data.AsSpan().SequenceEqual(back), $"{kind}: {back.Length} of {data.Length} bytes came back, or different ones");
        Assert.Equal(CompressionMethod.Deflate, Agreement.Of(client, CompressionSettings.Default));
        Assert.Equal(CompressionMethod.Deflate, Agreement.Of(server, CompressionSettings.Default));
        foreach (var (end, counters) in new[] { ("client", client.Counters.Compression), ("server", server.Counters.Compression) })
        {
            output.WriteLine($"{kind} {end}: {counters.FramesCompressed} compressed frames ({counters.BytesBeforeCompression} -> {counters.BytesAfterCompression} bytes), {counters.FramesRaw} raw, {counters.FramesDecompressed} decompressed, {counters.Abandoned} abandoned, {counters.Probes} probes");
            if (kind == "text")
            {
                // Every byte of text is compressed, except a read shorter than the compressor's minimum that the
                // echo server's timing may produce: those few go raw.
                Assert.InRange(counters.BytesBeforeCompression, data.Length - counters.FramesRaw * (CompressionLimits.MinFrame - 1), data.Length);
                Assert.True(counters.BytesAfterCompression * 2 < counters.BytesBeforeCompression, $"{end}: text shrank only to {counters.BytesAfterCompression}");
                Assert.Equal(0, counters.Abandoned);
            }
            else
            {
                // auto gives up after 4 poor frames and probes rarely: nearly everything goes raw.
                Assert.Equal(1, counters.Abandoned);
                Assert.InRange(counters.FramesCompressed, 0, CompressionLimits.AbandonAfter + counters.Probes);
            }
        }
        Assert.Equal(client.Counters.Compression.FramesCompressed, server.Counters.Compression.FramesDecompressed);
    }

    [Fact]
    public async Task Interactive_echo_answers_each_small_write_with_its_own_compressed_frame()
    {
        const int Writes = 100;
        const int LineSize = 120;
        var lines = Corpora.Text(Writes * LineSize);
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Warning), new Dictionary<string, string> { ["echo"] = echo.Address });
        var (client, server) = await rig.OpenAsync();
        using var socket = await Net.ConnectAsync(rig.ForwardPort("echo"));

        // Lockstep: the next line is written only after the echo of this one came back. A compressor that waited
        // for more data before flushing would stall here for good.
        for (var i = 0; i < Writes; i++)
        {
            var line = lines.AsMemory(i * LineSize, LineSize);
            await socket.SendAsync(line, SocketFlags.None);
            var back = await Net.ReadExactlyAsync(socket, LineSize).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(line.Span.SequenceEqual(back), $"line {i}");
        }

        // Each write left as its own flushed SERVICE_DATA_COMPRESSED frame, each way, and was decompressed on arrival.
        Assert.Equal(Writes, client.Counters.Compression.FramesCompressed);
        Assert.Equal(Writes, server.Counters.Compression.FramesDecompressed);
        Assert.Equal(Writes, server.Counters.Compression.FramesCompressed);
        Assert.Equal(Writes, client.Counters.Compression.FramesDecompressed);
        Assert.Equal(0, client.Counters.Compression.FramesRaw);
        // The shared history pays off even for 120-byte lines.
        Assert.True(client.Counters.Compression.BytesAfterCompression < Writes * LineSize * 3 / 4, $"{client.Counters.Compression.BytesAfterCompression} bytes for {Writes * LineSize}");
    }

    [Fact]
    public async Task A_stalled_application_receiving_zeros_holds_them_compressed_and_pauses_in_application_bytes()
    {
        await using var stuck = TestService.NeverReads();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Warning), new Dictionary<string, string> { ["stuck"] = stuck.Address });
        var (client, server) = await rig.OpenAsync();
        using var socket = await Net.ConnectAsync(rig.ForwardPort("stuck"));
        using var stop = new CancellationTokenSource();
        long pushed = 0;
        var zeros = new byte[64 * 1024];
        var pusher = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await socket.SendAsync(zeros, SocketFlags.None, stop.Token);
                    Interlocked.Add(ref pushed, zeros.Length);
                }
            }
            catch (OperationCanceledException) { }
        });

        ServiceChannel? Receiving() => server.Channels.FirstOrDefault();
        ServiceChannel? Sending() => client.Channels.FirstOrDefault();
        await Eventually.TrueAsync(() => Receiving()?.Flow.IsPaused == true && Sending()?.Gate.IsPaused == true, "the channel is paused at both ends", TimeSpan.FromSeconds(30));
        // Frames already in flight when the gate closed still land (on a loaded machine, for a while): let the
        // count settle, then it must stay put.
        var held = Receiving()!.Flow.Buffered;
        for (var i = 0; i < 40; i++)
        {
            await Task.Delay(250);
            var now = Receiving()!.Flow.Buffered;
            if (now == held) break;
            held = now;
        }
        await Task.Delay(500);

        // What the server end holds is counted in application bytes and stopped growing: the pause threshold plus
        // what was in flight. Without the declared lengths it would have counted ~20 bytes per 64 KiB frame and
        // let gigabytes of zeros through.
        // While paused it may hold less than the pause threshold (the application's socket buffer took some, as the
        // kernel grew it), but never down to the resume threshold, or the channel would have resumed.
        Assert.Equal(held, Receiving()!.Flow.Buffered);
        Assert.True(Receiving()!.Flow.IsPaused);
        Assert.InRange(held, FlowThresholds.Default.Resume + 1, FlowThresholds.Default.Pause + 64L * 1024 * 1024);
        Assert.True(client.Counters.Compression.FramesCompressed > 0);
        output.WriteLine($"pushed {Interlocked.Read(ref pushed)} bytes; the server end holds {held} application bytes as {server.Counters.Compression.FramesDecompressed} decompressed frames so far");

        stop.Cancel();
        socket.Dispose();
        await pusher;
    }
}

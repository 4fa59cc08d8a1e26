using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Testing;
using Lstp.Tunnel.Channels;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>Per-channel PAUSE/RESUME: a slow reader stalls only its own channel, with bounded memory.</summary>
public sealed class FlowControlTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Slow_reader_pauses_only_its_own_channel_and_memory_stays_bounded()
    {
        await using var stuck = TestService.NeverReads();
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information),
            new Dictionary<string, string> { ["stuck"] = stuck.Address, ["echo"] = echo.Address });
        var (clientTunnel, serverTunnel) = await rig.OpenAsync();

        // Channel 1 pushes into a service that never reads: its socket buffers fill, then the server end's pipe.
        using var slow = await Net.ConnectAsync(rig.ForwardPort("stuck"));
        using var stop = new CancellationTokenSource();
        long pushed = 0;
        var chunk = RandomNumberGenerator.GetBytes(64 * 1024);
        var pusher = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await slow.SendAsync(chunk, SocketFlags.None, stop.Token);
                    Interlocked.Add(ref pushed, chunk.Length);
                }
            }
            catch (OperationCanceledException) { }
        });

        ServiceChannel? Stuck() => serverTunnel.Channels.FirstOrDefault(c => c.Description.Contains("stuck", StringComparison.Ordinal));
        ServiceChannel? StuckOpener() => clientTunnel.Channels.FirstOrDefault(c => c.Description.Contains("stuck", StringComparison.Ordinal));
        await Eventually.TrueAsync(() => Stuck()?.Flow.IsPaused == true && StuckOpener()?.Gate.IsPaused == true, "the stuck channel is paused at both ends", TimeSpan.FromSeconds(30));

        // Channel 2 keeps its full speed meanwhile: 16 MiB echoed intact.
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        using (var fast = await Net.ConnectAsync(rig.ForwardPort("echo")))
        {
            var send = Task.Run(async () => { await fast.SendAsync(payload, SocketFlags.None); fast.Shutdown(SocketShutdown.Send); });
            var back = await Net.ReadToEndAsync(fast).WaitAsync(TimeSpan.FromSeconds(60));
            await send;
            Assert.True(payload.AsSpan().SequenceEqual(back));
        }

        // The stuck channel stayed paused, and what the server end holds for it stopped growing: the pause
        // threshold plus what was in flight when PAUSE left (socket buffers on loopback can hold several MiB).
        Assert.True(StuckOpener()!.Gate.IsPaused);
        var held = Stuck()!.Flow.Buffered;
        var pushedBefore = Interlocked.Read(ref pushed);
        await Task.Delay(1000);
        var heldAfter = Stuck()!.Flow.Buffered;
        var pushedAfter = Interlocked.Read(ref pushed);
        output.WriteLine($"the application pushed {pushedAfter} bytes; the server end holds {heldAfter} for the stuck channel");
        Assert.Equal(held, heldAfter);
        Assert.Equal(pushedBefore, pushedAfter);
        // Paused, it holds more than the resume threshold (the application's socket buffer may have taken a little of
        // the pause threshold) and at most the threshold plus what was in flight.
        Assert.True(Stuck()!.Flow.IsPaused);
        Assert.InRange(heldAfter, FlowThresholds.Default.Resume + 1, FlowThresholds.Default.Pause + 16 * 1024 * 1024);

        stop.Cancel();
        slow.Dispose();
        await pusher;
    }
}

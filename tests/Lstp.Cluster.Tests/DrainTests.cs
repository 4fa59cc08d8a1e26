using System.Net.Sockets;
using System.Text.Json;
using Lstp.Cluster.Tests.Support;
using Lstp.EndProxy;
using Lstp.EndProxy.Connect;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>SIGTERM drains a node: its ends are told to move, busy channels get a grace period, then it exits.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DrainTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_moves_every_end_off_the_node_lets_a_busy_channel_finish_and_exits_cleanly()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var n1 = await MiddleProcess.StartAsync("node-1", null);
        await using var n2 = await MiddleProcess.StartAsync("node-2", n1, "--log-level", "warning");
        await using var n3 = await MiddleProcess.StartAsync("node-3", n1, "--log-level", "warning");
        await using var echo = new EchoServer();
        var services = new Dictionary<string, string> { ["echo"] = echo.Address };
        List<HostPort> seeds = [n1.Address, n2.Address, n3.Address];

        // Ten tunnels with both ends at node-1, ten with one end there, and one end waiting there alone.
        var pairs = new List<EndPair>();
        for (var i = 0; i < 10; i++) pairs.Add(EndPair.Start(i, seeds, seeds, log, services));
        for (var i = 10; i < 20; i++) pairs.Add(EndPair.Start(i, [n2.Address, n3.Address, n1.Address], seeds, log, services));
        await using var lonely = EndProxyHost.Start(new EndOptions
        {
            Middles = seeds, Secret = "a peer that never comes", Name = "lonely",
            BackoffMin = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromSeconds(1),
        }, log);
        try
        {
            await Eventually.TrueAsync(() => pairs.All(p => p.BothOpen), "all tunnels are open", TimeSpan.FromSeconds(30));
            await Eventually.TrueAsync(() => lonely.Supervisor.State.Phase == TunnelPhase.Waiting, "the lonely end waits", TimeSpan.FromSeconds(10));
            Assert.Equal(n1.Address.ToString(), lonely.Supervisor.State.Middle);
            Assert.All(pairs, p => Assert.Contains(p.Client.Supervisor.Current!.Session.Pairing.Path, e => e.Name == "node-1"));

            // A channel that is busy when SIGTERM comes: it keeps working during the grace period.
            var busy = pairs[0];
            using var channel = await Net.ConnectAsync(busy.ForwardPort("echo"));
            await RoundTripAsync(channel, 1);
            using var http = new HttpClient();
            await Eventually.TrueAsync(() => ChannelsAt(http, n1).Result > 0, "node-1 hears of the open channel (TUNNEL_REPORT)", TimeSpan.FromSeconds(25));

            // Time each idle tunnel through node-1 until it is open again elsewhere (the busy one waits for the grace period).
            var repaired = new System.Collections.Concurrent.ConcurrentDictionary<int, double>();
            var terminatedAt = System.Diagnostics.Stopwatch.StartNew();
            using var watching = new CancellationTokenSource();
            var watch = Task.Run(async () =>
            {
                while (!watching.IsCancellationRequested)
                {
                    foreach (var pair in pairs.Where(p => p != busy && !repaired.ContainsKey(p.Index)))
                    {
                        if (pair.BothOpen && pair.Client.Supervisor.Current!.Session.Pairing.Path.All(e => e.Name != "node-1")) repaired[pair.Index] = terminatedAt.Elapsed.TotalMilliseconds;
                    }
                    await Task.Delay(20);
                }
            });
            n1.Process.Terminate();
            await Eventually.TrueAsync(() => lonely.Supervisor.State.Phase == TunnelPhase.Waiting && lonely.Supervisor.State.Middle != n1.Address.ToString(),
                "the lonely end was redirected to another node and waits there", TimeSpan.FromSeconds(10));
            output.WriteLine($"the lonely end now waits at {lonely.Supervisor.State.Middle}; it was told: {lonely.Supervisor.State.LastError}");
            Assert.Contains("move to", lonely.Supervisor.State.LastError);

            await Task.Delay(TimeSpan.FromSeconds(2));
            await RoundTripAsync(channel, 2); // still in the grace period (5 s)

            Assert.Equal(0, await n1.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)));
            Assert.Contains(n1.Process.Lines, l => l.Contains("drained", StringComparison.Ordinal));
            foreach (var line in n1.Process.Lines.Where(l => l.Contains("drain", StringComparison.Ordinal))) output.WriteLine($"node-1: {line}");
            await Eventually.TrueAsync(
                () => pairs.All(p => p.BothOpen && p.Client.Supervisor.Current!.Session.Pairing.Path.All(e => e.Name != "node-1")),
                "every tunnel is open again without node-1", TimeSpan.FromSeconds(30));
            await Eventually.TrueAsync(() => repaired.Count == pairs.Count - 1, "every idle tunnel's re-pairing is timed", TimeSpan.FromSeconds(5));
            await watching.CancelAsync();
            await watch;
            var times = repaired.Values.Order().ToList();
            var report = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"re-pair after SIGTERM of 1 of 3 nodes: {times.Count} idle tunnels; p50 {times[times.Count / 2]:0} ms, p99 {times[Math.Clamp((int)Math.Ceiling(0.99 * times.Count) - 1, 0, times.Count - 1)]:0} ms, max {times[^1]:0} ms");
            output.WriteLine(report);
            Directory.CreateDirectory(FailoverTests.OutDirectory);
            await File.AppendAllTextAsync(Path.Combine(FailoverTests.OutDirectory, "repair-times.txt"), $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {report}\n");
        }
        finally
        {
            await Task.WhenAll(pairs.Select(p => p.DisposeAsync().AsTask()));
        }
    }

    private static async Task<int> ChannelsAt(HttpClient http, MiddleProcess node)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync($"http://{node.Admin}/api/tunnels"));
        return document.RootElement.EnumerateArray().Sum(t => t.GetProperty("channels").GetInt32());
    }

    private static async Task RoundTripAsync(Socket socket, byte value)
    {
        var message = Enumerable.Repeat(value, 1000).ToArray();
        await socket.SendAsync(message, SocketFlags.None);
        var back = await Net.ReadExactlyAsync(socket, message.Length).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(message, back);
    }
}

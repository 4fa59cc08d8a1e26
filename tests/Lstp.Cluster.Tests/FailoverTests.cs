using System.Diagnostics;
using System.Globalization;
using Lstp.Cluster.Tests.Support;
using Lstp.EndProxy.Connect;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>Hundreds of tunnels over a three-node cluster, and what happens when a node dies under them.</summary>
[Collection(ClusterCollection.Name)]
public sealed class FailoverTests(ITestOutputHelper output)
{
    private const int Tunnels = 300;

    [Fact]
    public async Task Three_hundred_tunnels_over_three_nodes_all_pair_and_all_pair_again_after_kill_9_of_one_node()
    {
        var log = new TestLog(output, LogLevel.Error);
        var nodes = new List<MiddleProcess>();
        var pairs = new List<EndPair>();
        try
        {
            // Every node lists all three cluster endpoints as seeds, as a deployment would; node-1 is killed below,
            // so the cluster must outlive its first seed.
            var endpoints = new[] { Endpoints.Free(), Endpoints.Free(), Endpoints.Free() };
            for (var i = 0; i < 3; i++) nodes.Add(await MiddleProcess.StartAsync($"node-{i + 1}", endpoints[i], endpoints, "--log-level", "warning"));
            var seeds = nodes.Select(n => n.Address).ToList();

            // Server ends start at node i % 3, client ends at node (i / 3) % 3: a third pair at one node, the rest
            // across two. Every end lists all three nodes as seeds, as a deployment would.
            var pairing = Stopwatch.StartNew();
            for (var i = 0; i < Tunnels; i++) pairs.Add(EndPair.Start(i, Rotate(seeds, i % 3), Rotate(seeds, i / 3 % 3), log));
            await Eventually.TrueAsync(() => pairs.All(p => p.BothOpen), $"all {Tunnels} tunnels are open", TimeSpan.FromSeconds(180));
            output.WriteLine($"{Tunnels} tunnels paired in {pairing.Elapsed.TotalSeconds:0.0} s");
            var across = pairs.Count(p => p.Client.Supervisor.Current!.Session.Pairing.Path.Count(e => e.Kind == Protocol.Messages.NodeKind.Middle) == 2);
            output.WriteLine($"{across} of them cross two nodes");
            Assert.True(across >= Tunnels / 2, $"only {across} tunnels cross nodes");

            // Tunnels that have been up a while retry their own middle first (docs/protocol.md §7.1), as in production.
            await Task.Delay(TimeSpan.FromSeconds(11));

            // kill -9 the first node: every tunnel with an end or a hop there must pair again.
            var victim = nodes[0];
            var affected = pairs.Where(p => p.Client.Supervisor.Current!.Session.Pairing.Path.Any(e => e.Name == victim.Name)).ToList();
            var opened = new Dictionary<TunnelSupervisor, long>();
            var gate = new Lock();
            var phases = new List<(TunnelPhase Phase, long At)>();
            foreach (var supervisor in affected.SelectMany(p => new[] { p.Client.Supervisor, p.Server.Supervisor }))
            {
                supervisor.StateChanged += state =>
                {
                    var now = Stopwatch.GetTimestamp();
                    lock (gate)
                    {
                        phases.Add((state.Phase, now));
                        if (state.Phase == TunnelPhase.Open) opened[supervisor] = now;
                    }
                };
            }
            var old = affected.ToDictionary(p => p, p => p.Client.Supervisor.Current!.Session);
            var killedAt = Stopwatch.GetTimestamp();
            victim.Process.Kill();
            // Paired again without the victim: the same tunnel resumed over a new link (docs/protocol.md §6.7), or a new one.
            bool Repaired(EndPair p) => p.BothOpen && p.Client.Supervisor.Current!.Session != old[p] && !p.Client.Supervisor.Current!.Session.Pairing.Path.Any(e => e.Name == victim.Name);
            try
            {
                await Eventually.TrueAsync(() => affected.All(Repaired), $"the {affected.Count} tunnels through {victim.Name} are open again elsewhere", TimeSpan.FromSeconds(120));
            }
            catch (TimeoutException)
            {
                // Say where the stragglers are, and what the surviving nodes logged.
                foreach (var pair in affected.Where(p => !Repaired(p)).Take(10))
                {
                    output.WriteLine($"tunnel {pair.Index}: client {pair.Client.Supervisor.State}; server {pair.Server.Supervisor.State}");
                }
                Directory.CreateDirectory(OutDirectory);
                foreach (var node in nodes.Skip(1))
                {
                    var file = Path.Combine(OutDirectory, $"failover-{node.Name}.log");
                    await File.WriteAllLinesAsync(file, node.Process.Lines);
                    output.WriteLine($"{node.Name}'s log: {file}");
                }
                throw;
            }
            Assert.All(pairs, p => Assert.True(p.BothOpen, $"tunnel {p.Index} is down"));
            // A resumed tunnel shows its new session a moment before its keeper publishes Open: wait for every Open.
            bool Reported(EndPair p) => opened.ContainsKey(p.Client.Supervisor) && opened.ContainsKey(p.Server.Supervisor);
            await Eventually.TrueAsync(() => { lock (gate) return affected.All(Reported); }, "every affected end reported Open", TimeSpan.FromSeconds(30));

            // Where the time goes: when the affected ends reached each phase (docs/protocol.md §7.1).
            var times = new List<double>();
            var breakdown = new List<string>();
            lock (gate)
            {
                foreach (var pair in affected)
                {
                    var both = Math.Max(opened[pair.Client.Supervisor], opened[pair.Server.Supervisor]);
                    times.Add(Stopwatch.GetElapsedTime(killedAt, both).TotalMilliseconds);
                }
                foreach (var group in phases.GroupBy(p => p.Phase).OrderBy(g => g.Min(p => p.At)))
                {
                    var t = group.Select(p => Stopwatch.GetElapsedTime(killedAt, p.At).TotalMilliseconds).Order().ToList();
                    breakdown.Add(string.Create(CultureInfo.InvariantCulture, $"{group.Key} reached by {t.Count} ends at p50 {Percentile(t, 0.5):0} ms, p99 {Percentile(t, 0.99):0} ms"));
                }
            }
            times.Sort();
            var report = string.Create(CultureInfo.InvariantCulture,
                $"re-pair after kill -9 of 1 of 3 nodes: {affected.Count} of {Tunnels} tunnels affected; p50 {Percentile(times, 0.50):0} ms, p90 {Percentile(times, 0.90):0} ms, p99 {Percentile(times, 0.99):0} ms, max {times[^1]:0} ms (ends: backoff 50 ms..1 s, TLS 1.3 end to end; {Environment.ProcessorCount} cores)");
            output.WriteLine(report);
            output.WriteLine("phases after the kill: " + string.Join("; ", breakdown));
            Directory.CreateDirectory(OutDirectory);
            await File.AppendAllTextAsync(Path.Combine(OutDirectory, "repair-times.txt"), $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {report}\n    phases after the kill: {string.Join("; ", breakdown)}\n");
        }
        finally
        {
            await Task.WhenAll(pairs.Select(p => p.DisposeAsync().AsTask()));
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    /// <summary>tests/Lstp.Cluster.Tests/out (gitignored), found from the test assembly's directory.</summary>
    public static string OutDirectory
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lstp.Cluster.Tests.csproj"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "out");
        }
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static List<HostPort> Rotate(List<HostPort> seeds, int first) => [.. seeds.Skip(first), .. seeds.Take(first)];
}

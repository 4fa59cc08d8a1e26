using System.Net;
using Lstp.Cluster.Tests.Support;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>A cluster node's /metrics (docs/observability.md): its members by status, unreachable members, shards per node.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Each_node_reports_the_members_the_shards_per_node_and_a_dead_member_as_unreachable()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var a = await ClusterMiddle.StartAsync("node-a", null, log);
        await using var b = await ClusterMiddle.StartAsync("node-b", a, log);
        var c = await ClusterMiddle.StartAsync("node-c", a, log);
        try
        {
            using var http = new HttpClient();
            Scrape At(ClusterMiddle node) => Scrape.GetAsync(http, $"http://{node.Host.AdminAddress}/metrics").GetAwaiter().GetResult();
            await Eventually.TrueAsync(() => new[] { a, b, c }.All(n => At(n).Value("lstp_cluster_members", ("status", "up")) == 3),
                "every node counts three members up", TimeSpan.FromSeconds(20));

            // One end waits at node-a: its pairing key's entity lives in one shard, on whichever node the coordinator chose.
            await using var waiting = await RawLink.ConnectAsync(a.Address, IPAddress.Loopback);
            await waiting.SendAsync(RawSetup.Bytes(RawSetup.End("metrics-end")));
            await waiting.ReadPreambleAsync();
            while (await waiting.ReadAsync() is not Waiting)
            {
                // MIDDLE_MEMBERS comes first from a cluster node
            }
            await Eventually.TrueAsync(() => At(a).Sum("lstp_cluster_shards") == 1 && At(b).Sum("lstp_cluster_shards") == 1,
                "both nodes count the one shard (the counts refresh every 5 s)", TimeSpan.FromSeconds(20));
            var shards = At(a);
            Assert.Equal(["node-a", "node-b", "node-c"], shards.Samples.Where(s => s.Name == "lstp_cluster_shards").Select(s => s.Labels["node"]).Order());
            Assert.Equal(0, shards.Value("lstp_cluster_unreachable_members"));
            Assert.Equal(1, shards.Value("lstp_waiting_ends", ("node", "node-a")));
            await Promtool.AssertValidAsync(shards.Text);

            // node-c dies without a word: the others see it unreachable until the split brain resolver downs it.
            await c.CrashAsync();
            await Eventually.TrueAsync(() => At(a).Value("lstp_cluster_unreachable_members") == 1, "node-a sees node-c unreachable", TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(() => At(a) is var now && now.Value("lstp_cluster_unreachable_members") == 0 && now.Sum("lstp_cluster_members") == 2,
                "node-c is downed and removed", TimeSpan.FromSeconds(30));
        }
        finally
        {
            await c.DisposeAsync().AsTask().ContinueWith(_ => { });
        }
    }
}

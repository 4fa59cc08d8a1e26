using System.Diagnostics;
using System.Security.Cryptography;
using Lstp.Cluster.Tests.Support;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>Joining, the member list, the cluster certificate, and nodes that leave or die under waiting ends.</summary>
[Collection(ClusterCollection.Name)]
public sealed class MembershipTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_nodes_join_and_each_lists_the_three_by_name_link_and_node_token()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var a = await RegistryNode.StartAsync("node-a", null, log);
        await using var b = await RegistryNode.StartAsync("node-b", a, log);
        await using var c = await RegistryNode.StartAsync("node-c", a, log);
        RegistryNode[] nodes = [a, b, c];

        await Eventually.TrueAsync(() => nodes.All(n => n.Cluster.Members.All.Count(m => m.Serves) == 3), "every node lists three introduced members", TimeSpan.FromSeconds(20));
        foreach (var node in nodes)
        {
            Assert.Equal(["node-a", "node-b", "node-c"], node.Cluster.Members.All.Select(m => m.Info!.Name).Order());
            Assert.Equal(nodes.Select(n => n.Link).Order(), node.Cluster.Members.All.Select(m => m.Info!.Link).Order());
            Assert.Equal(2, node.Cluster.Members.Others.Count);
            // A node link is admitted with any member's token; this node presents its own.
            Assert.Equal(node.Cluster.Self.Token, node.Cluster.Options.UpstreamToken);
            Assert.Equal(nodes.Select(n => n.Cluster.Self.Token).Order(), node.Cluster.Options.NodeTokens.Order());
            Assert.Empty(node.Cluster.Options.Tokens); // an open middle stays open to ends; tokens of nodes are not end tokens
        }
        Assert.Equal(3, nodes.Select(n => n.Cluster.Self.Token).Distinct().Count());
    }

    [Fact]
    public async Task Nodes_holding_the_cluster_certificate_join_over_mutual_TLS_and_a_node_with_another_certificate_is_refused()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var directory = Directory.CreateTempSubdirectory("lstp-cluster-cert-");
        using var cleanup = new Cleanup(() => directory.Delete(recursive: true));
        var shared = Path.Combine(directory.FullName, "cluster.p12");
        var other = Path.Combine(directory.FullName, "other.p12");
        ClusterCertificate.Create(shared).Dispose();
        ClusterCertificate.Create(other).Dispose();
        Assert.Throws<ArgumentException>(() => ClusterCertificate.Create(shared)); // never overwritten: every node holds a copy

        await using var a = await RegistryNode.StartAsync("node-a", null, log, c => c with { CertificateFile = shared });
        await using var b = await RegistryNode.StartAsync("node-b", a, log, c => c with { CertificateFile = shared });
        await Eventually.TrueAsync(() => a.Cluster.Members.All.Count(m => m.Serves) == 2, "node-b joined node-a over TLS", TimeSpan.FromSeconds(20));
        Assert.StartsWith("akka.ssl.tcp://", a.Cluster.Address.ToString(), StringComparison.Ordinal);

        var refused = await Assert.ThrowsAsync<ClusterUnavailableException>(() =>
            RegistryNode.StartAsync("intruder", a, log, c => c with { CertificateFile = other, JoinTimeout = TimeSpan.FromSeconds(6) }));
        output.WriteLine($"the intruder was told: {refused.Message}");
        Assert.Contains("--cluster-cert", refused.Message);
        Assert.Equal(["node-a", "node-b"], a.Cluster.Members.All.Select(m => m.Info?.Name).Order());
    }

    [Fact]
    public async Task Configuration_mistakes_are_refused_before_anything_starts()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var middle = new MiddleOptions { Listen = new HostPort("127.0.0.1", Net.FreePort()), Name = "n" };
        var loopback = new ClusterOptions { Advertise = Endpoints.Free() };

        var cascade = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback, middle with { Upstream = new HostPort("127.0.0.1", 7701) }, log));
        Assert.Contains("--upstream", cascade.Message);
        var portZero = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback with { Advertise = new HostPort("127.0.0.1", 0) }, middle, log));
        Assert.Contains("--advertise", portZero.Message);
        var wildcard = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback with { Advertise = new HostPort("0.0.0.0", 4053) }, middle, log));
        Assert.Contains("wildcard", wildcard.Message);
        var exposed = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback with { Advertise = new HostPort("192.0.2.7", 4053) }, middle, log));
        Assert.Contains("--cluster-cert", exposed.Message);
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback with { CertificateFile = "/nonexistent/cluster.p12" }, middle, log));
        Assert.Contains("/nonexistent/cluster.p12", missing.Message);
        var anyPort = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(loopback, middle with { Listen = new HostPort("127.0.0.1", 0) }, log));
        Assert.Contains("--public", anyPort.Message);
    }

    [Theory]
    [InlineData("crashes")]
    [InlineData("leaves")]
    public async Task Ends_waiting_at_live_nodes_are_not_forgotten_when_a_node_holding_their_entities_goes(string how)
    {
        const int Ends = 60;
        var log = new TestLog(output, LogLevel.Information);
        await using var a = await RegistryNode.StartAsync("node-a", null, log);
        await using var b = await RegistryNode.StartAsync("node-b", a, log);
        var c = await RegistryNode.StartAsync("node-c", a, log);
        await Eventually.TrueAsync(() => a.Cluster.Members.All.Count(m => m.Serves) == 3, "three members", TimeSpan.FromSeconds(20));

        // Sixty ends wait at node-a; their keys' entities spread over the three nodes, so about a third live on node-c.
        var keys = Enumerable.Range(0, Ends).Select(_ => RandomNumberGenerator.GetBytes(32)).ToList();
        var waiting = new List<WaitingEnd>();
        foreach (var key in keys)
        {
            var end = RegistryNode.End(key, "server");
            Assert.IsType<RegisterResult.Stored>(await a.Registry.RegisterAsync(end, CancellationToken.None));
            waiting.Add(end);
        }

        const string Offered = "offered to the cluster's registry again";
        int OfferedLines() => log.Lines.Count(l => l.Contains(Offered, StringComparison.Ordinal));
        var offeredBefore = OfferedLines(); // a rebalance after node-c joined may have moved some already
        var went = Stopwatch.StartNew();
        if (how == "crashes") await c.CrashAsync();
        await c.DisposeAsync();
        await Eventually.TrueAsync(() => a.Cluster.Members.All.Count == 2 && b.Cluster.Members.All.Count == 2, "node-c is out of the member lists", TimeSpan.FromSeconds(40));
        output.WriteLine($"node-c {how}: removed from the others' member lists after {went.Elapsed.TotalSeconds:0.0} s");
        await Eventually.TrueAsync(() => OfferedLines() > offeredBefore && a.Registry.WaitingAlone == 0,
            "node-a offers its waiting ends again, and the registry holds them all", TimeSpan.FromSeconds(30));
        Assert.Equal(Ends, a.Registry.Snapshot().Count);

        // Every peer registering at node-b finds its end at node-a: none was forgotten with node-c's entities.
        for (var i = 0; i < Ends; i++)
        {
            var result = await b.Registry.RegisterAsync(RegistryNode.End(keys[i], "client"), CancellationToken.None);
            var forward = Assert.IsType<RegisterResult.Forward>(result);
            Assert.Equal(a.Link, forward.Node.ToString());
            Assert.Same(waiting[i], a.Registry.TakeClaimed(forward.Claim));
        }
        Assert.Empty(a.Registry.Snapshot());
        Assert.Empty(b.Registry.Snapshot());
    }

    private sealed class Cleanup(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

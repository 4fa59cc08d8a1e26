using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Lstp.Cluster.Tests.Support;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>Two ends that reach different nodes of a cluster pair through one inter-node hop.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PairingAcrossNodesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ends_on_different_nodes_pair_carry_data_intact_and_both_nodes_show_the_path_through_both()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var a = await ClusterMiddle.StartAsync("node-a", null, log);
        await using var b = await ClusterMiddle.StartAsync("node-b", a, log);
        await using var echo = new EchoServer();
        await using var pair = EndPair.Start(1, serverSeeds: [b.Address], clientSeeds: [a.Address], log, new Dictionary<string, string> { ["echo"] = echo.Address });

        var client = await pair.Client.Supervisor.WaitForTunnelAsync(TimeSpan.FromSeconds(20), CancellationToken.None) ?? throw new TimeoutException("the client end's tunnel did not open");
        var server = await pair.Server.Supervisor.WaitForTunnelAsync(TimeSpan.FromSeconds(20), CancellationToken.None) ?? throw new TimeoutException("the server end's tunnel did not open");

        // Whichever end came first waits at its node; the second's node claims it and links in: one hop.
        var path = client.Session.Pairing.Path.Select(e => e.Name).ToList();
        Assert.Equal("client-1", path[0]);
        Assert.Equal("server-1", path[^1]);
        Assert.Equal(["node-a", "node-b"], path.Where(n => n.StartsWith("node-", StringComparison.Ordinal)).Order());
        Assert.Equal(4, path.Count);
        Assert.Equal(path.AsEnumerable().Reverse(), server.Session.Pairing.Path.Select(e => e.Name));

        using var socket = await Net.ConnectAsync(pair.ForwardPort("echo"));
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var send = Task.Run(async () => { await socket.SendAsync(payload, SocketFlags.None); socket.Shutdown(SocketShutdown.Send); });
        var back = await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(60));
        await send;
        Assert.True(payload.AsSpan().SequenceEqual(back), $"echoed {back.Length} of {payload.Length} bytes, or altered");

        using var http = new HttpClient();
        foreach (var node in new[] { a, b })
        {
            var tunnel = Assert.Single(node.Node.Tunnels.Snapshot());
            Assert.Equal(["node-a", "node-b"], tunnel.Path.Where(e => e.Kind == NodeKind.Middle).Select(e => e.Name).Order());
            var json = await http.GetStringAsync($"http://{node.Host.AdminAddress}/api/tunnels");
            output.WriteLine($"{node.Name} /api/tunnels: {json}");
            using var document = JsonDocument.Parse(json);
            var names = document.RootElement.EnumerateArray().Single()
                .GetProperty("path").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
            Assert.Contains("node-a", names);
            Assert.Contains("node-b", names);
        }
    }

    [Fact]
    public async Task Ends_on_the_same_node_pair_there_without_a_hop()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var a = await ClusterMiddle.StartAsync("node-a", null, log);
        await using var b = await ClusterMiddle.StartAsync("node-b", a, log);
        await using var pair = EndPair.Start(1, serverSeeds: [a.Address], clientSeeds: [a.Address], log);

        var client = await pair.Client.Supervisor.WaitForTunnelAsync(TimeSpan.FromSeconds(20), CancellationToken.None) ?? throw new TimeoutException("no tunnel");
        Assert.Equal(["client-1", "node-a", "server-1"], client.Session.Pairing.Path.Select(e => e.Name));
        Assert.Empty(b.Node.Tunnels.Snapshot());
    }

    [Fact]
    public async Task Ends_given_one_seed_learn_the_members_and_their_tunnel_resumes_through_one_of_them_when_their_middle_dies()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var a = await ClusterMiddle.StartAsync("node-a", null, log);
        await using var b = await ClusterMiddle.StartAsync("node-b", a, log);
        await using var c = await ClusterMiddle.StartAsync("node-c", a, log);
        await Eventually.TrueAsync(() => a.Cluster.Members.All.Count(m => m.Serves) == 3, "node-a lists three members", TimeSpan.FromSeconds(20));
        await using var echo = new EchoServer();
        await using var pair = EndPair.Start(1, serverSeeds: [a.Address], clientSeeds: [a.Address], log, new Dictionary<string, string> { ["echo"] = echo.Address });
        await Eventually.TrueAsync(() => pair.BothOpen, "the tunnel opens at node-a", TimeSpan.FromSeconds(20));

        // MIDDLE_MEMBERS: each end now knows node-b and node-c as well as its one seed.
        string[] others = [b.Address.ToString(), c.Address.ToString()];
        foreach (var end in new[] { pair.Server, pair.Client })
        {
            Assert.Equal([a.Address], end.Supervisor.Middles.All.Take(1));
            Assert.Equal(others.Order(), end.Supervisor.Middles.Learned.Select(m => m.ToString()).Order());
        }

        // A connection through the tunnel, half its data echoed before the crash and half after.
        var old = pair.Client.Supervisor.Current!;
        var oldSession = old.Session;
        using var socket = await Net.ConnectAsync(pair.ForwardPort("echo"));
        var payload = RandomNumberGenerator.GetBytes(64 * 1024);
        await socket.SendAsync(payload.AsMemory(0, payload.Length / 2), SocketFlags.None);
        Assert.Equal(payload[..(payload.Length / 2)], await Net.ReadExactlyAsync(socket, payload.Length / 2).WaitAsync(TimeSpan.FromSeconds(20)));

        await a.CrashAsync();
        // The tunnel takes its new session inside the resume, before its keeper publishes the resumption: wait for both.
        await Eventually.TrueAsync(() => pair.BothOpen && pair.Client.Supervisor.Current!.Session != oldSession && pair.Client.Supervisor.State.Resumptions > 0,
            "the tunnel opens again without node-a", TimeSpan.FromSeconds(60));
        var path = pair.Client.Supervisor.Current!.Session.Pairing.Path.Where(e => e.Kind == NodeKind.Middle).Select(e => e.Name).ToList();
        output.WriteLine($"after node-a died the tunnel runs through {string.Join(" -> ", path)}");
        Assert.DoesNotContain("node-a", path);
        // The same tunnel resumed (docs/protocol.md §6.7): the connection carries on as if nothing happened.
        Assert.Same(old, pair.Client.Supervisor.Current);
        Assert.Equal(1, pair.Client.Supervisor.State.Resumptions);

        await socket.SendAsync(payload.AsMemory(payload.Length / 2), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(payload[(payload.Length / 2)..], await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Nodes_with_link_TLS_join_ends_on_different_nodes_over_a_node_link_pinned_to_the_announced_certificate()
    {
        var log = new TestLog(output, LogLevel.Information);
        var directory = Directory.CreateTempSubdirectory("lstp-node-tls-");
        try
        {
            var (certificate, key, fingerprint) = Lstp.Testing.Security.TestCertificates.WritePem(directory.FullName);
            Lstp.Middle.MiddleOptions Tls(Lstp.Middle.MiddleOptions o) => o with { TlsCertificate = certificate, TlsKey = key };
            await using var a = await ClusterMiddle.StartAsync("node-a", null, log, middle: Tls);
            await using var b = await ClusterMiddle.StartAsync("node-b", a, log, middle: Tls);
            await Eventually.TrueAsync(() => a.Cluster.Members.All.Count(m => m.Serves) == 2 && b.Cluster.Members.All.Count(m => m.Serves) == 2, "both nodes introduced", TimeSpan.FromSeconds(20));
            Assert.All(b.Cluster.Members.All, m => Assert.Equal(fingerprint, m.Info!.LinkFingerprint));

            await using var echo = new EchoServer();
            var pin = new Lstp.Transport.Dialing.MiddleTrust(fingerprint);
            await using var pair = EndPair.Start(1, serverSeeds: [b.Address], clientSeeds: [a.Address], log, new Dictionary<string, string> { ["echo"] = echo.Address }, middleTls: pin);
            await Eventually.TrueAsync(() => pair.BothOpen, "the tunnel opens across the two TLS nodes", TimeSpan.FromSeconds(20));
            Assert.Equal(["node-a", "node-b"], pair.Client.Supervisor.Current!.Session.Pairing.Path.Where(e => e.Kind == NodeKind.Middle).Select(e => e.Name).Order());

            using var socket = await Net.ConnectAsync(pair.ForwardPort("echo"));
            var payload = RandomNumberGenerator.GetBytes(256 * 1024);
            await socket.SendAsync(payload, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(payload, await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}

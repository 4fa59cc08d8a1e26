using System.Net.Sockets;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios;

/// <summary>Cascaded middles: ends behind different middles meet at an upstream one, and both see the whole path.</summary>
public sealed class CascadeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_cascade_of_three_middles_carries_a_tunnel_and_the_path_lists_all_three()
    {
        await using var echo = new EchoServer();
        var log = new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Information);
        // The ends dial middles A and C; both hand their ends on to B, which pairs them.
        await using var b = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-b" }, log);
        await using var a = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-a", Upstream = b.LinkAddress }, log);
        await using var c = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "mid-c", Upstream = b.LinkAddress }, log);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Middles = [a.LinkAddress] },
            server: o => o with { Middles = [c.LinkAddress] },
            existingMiddle: b);

        var (clientTunnel, serverTunnel) = await rig.OpenAsync();

        Assert.Equal(["client-end", "mid-a", "mid-b", "mid-c", "server-end"], clientTunnel.Session.Pairing.Path.Select(e => e.Name));
        Assert.Equal(["server-end", "mid-c", "mid-b", "mid-a", "client-end"], serverTunnel.Session.Pairing.Path.Select(e => e.Name));
        foreach (var middle in new[] { a, b, c })
        {
            var tunnel = Assert.Single(middle.Node.Tunnels.Snapshot());
            Assert.Equal(5, tunnel.Path.Count);
        }

        using var socket = await Net.ConnectAsync(rig.ForwardPort("echo"));
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        var send = Task.Run(async () => { await socket.SendAsync(payload, SocketFlags.None); socket.Shutdown(SocketShutdown.Send); });
        var back = await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(30));
        await send;
        Assert.True(payload.AsSpan().SequenceEqual(back));
    }
}

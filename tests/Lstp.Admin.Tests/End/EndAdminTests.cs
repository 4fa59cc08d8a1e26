using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Lstp.Admin.Access;
using Lstp.Admin.End;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.End;

/// <summary>An end proxy's own admin endpoint: health, metrics, and its view of its tunnel.</summary>
public sealed class EndAdminTests(ITestOutputHelper output)
{
    private const string Secret = "end-admin-secret-2d8e";

    [Fact]
    public async Task The_end_shows_its_tunnel_phase_peer_path_channels_and_entry_points()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address }, secret: Secret);
        await rig.OpenAsync();
        await using var clientAdmin = await EndAdmin.StartAsync(rig.Client, new HostPort("127.0.0.1", 0), log);
        await using var serverAdmin = await EndAdmin.StartAsync(rig.Server, new HostPort("127.0.0.1", 0), log);
        using var http = new HttpClient();
        Assert.Equal("ok\n", await http.GetStringAsync($"http://{clientAdmin.Address}/healthz"));

        // One connection through the forward, echoed once and held open: one channel with traffic on it.
        using var socket = await Net.ConnectAsync(rig.ForwardPort("echo"));
        await socket.SendAsync(new byte[1000], SocketFlags.None);
        await Net.ReadExactlyAsync(socket, 1000);
        JsonNode? client = null;
        await Eventually.TrueAsync(() =>
        {
            client = JsonNode.Parse(http.GetStringAsync($"http://{clientAdmin.Address}/api/end").GetAwaiter().GetResult());
            return client!["channels"]!.AsArray().Count == 1 && client["traffic"]!["bytesSent"]!.GetValue<long>() == 1000;
        }, "the client end shows its channel and traffic");

        Assert.Equal("client-end", client!["name"]!.GetValue<string>());
        Assert.Equal("open", client["phase"]!.GetValue<string>());
        Assert.Equal("server-end", client["peer"]!.GetValue<string>());
        Assert.True(client["encrypted"]!.GetValue<bool>());
        Assert.Equal(["client-end", "rig-middle", "server-end"], client["path"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
        Assert.Equal("out", client["channels"]![0]!["direction"]!.GetValue<string>());
        var forward = Assert.Single(client["entryPoints"]!.AsArray());
        Assert.Equal("forward", forward!["kind"]!.GetValue<string>());
        Assert.Equal("echo", forward["service"]!.GetValue<string>());
        Assert.Equal($"127.0.0.1:{rig.ForwardPort("echo")}", forward["address"]!.GetValue<string>());
        Assert.Equal(["echo"], client["peerServices"]!.AsArray().Select(s => s!.GetValue<string>()));

        var server = JsonNode.Parse(await http.GetStringAsync($"http://{serverAdmin.Address}/api/end"))!;
        Assert.Equal($"echo {echo.Address}", string.Join(' ', server["services"]![0]!["name"]!.GetValue<string>(), server["services"]![0]!["target"]!.GetValue<string>()));

        var scrape = await Scrape.GetAsync(http, $"http://{clientAdmin.Address}/metrics");
        Assert.Equal(1, scrape.Value("lstp_end_tunnel_open"));
        Assert.Equal(1, scrape.Value("lstp_end_phase", ("phase", "open")));
        Assert.Equal(1000, scrape.Value("lstp_end_sent_bytes_total", ("service", "echo")));
        var metrics = scrape.Text;

        foreach (var body in new[] { client.ToJsonString(), server.ToJsonString(), metrics })
        {
            Assert.DoesNotContain(Secret, body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_end_admin_refuses_to_start_off_loopback_without_credentials_and_guards_with_them()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address });
        await Assert.ThrowsAsync<ArgumentException>(() => EndAdmin.StartAsync(rig.Client, new HostPort("0.0.0.0", 0), log));

        await using var admin = await EndAdmin.StartAsync(rig.Client, new HostPort("0.0.0.0", 0), new AdminAccess { Token = "end-admin-token" }, log);
        using var http = new HttpClient();
        var url = $"http://127.0.0.1:{admin.Address.Port}/api/end";
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(url + "?token=end-admin-token")).StatusCode);
    }
}

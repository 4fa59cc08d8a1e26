using System.Net.Sockets;
using Lstp.EndProxy;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.WaysIn;

/// <summary>
/// Regressions from the outside review: the local SOCKS5 and HTTP CONNECT entry points had no handshake timeout
/// and no cap on clients in their handshake, and would listen off loopback with no credentials.
/// </summary>
public sealed class EntryPointLimitTests(ITestOutputHelper output)
{
    private async Task<(TunnelRig Rig, int Socks, HttpTextServer Web)> StartAsync(Func<EndOptions, EndOptions> client)
    {
        var web = new HttpTextServer("still serving");
        var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string>(),
            server: o => o with { Allow = [$"127.0.0.1:{web.Port}"] },
            client: o => client(o with { Socks = new HostPort("127.0.0.1", 0) }));
        await rig.OpenAsync();
        return (rig, rig.Client.Listeners.Single(l => l.What.StartsWith("socks ", StringComparison.Ordinal)).Address.Port, web);
    }

    /// <summary>True when the entry point closed the connection (end of stream or reset) within <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            return await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_client_that_never_sends_its_request_is_closed_after_the_handshake_timeout()
    {
        var (rig, socks, web) = await StartAsync(o => o with { EntryPointHandshakeTimeout = TimeSpan.FromMilliseconds(500) });
        await using var _ = rig;
        await using var __ = web;

        using var silent = await Net.ConnectAsync(socks);

        Assert.True(await ClosedWithinAsync(silent, TimeSpan.FromSeconds(10)), "the silent client was not closed");
    }

    [Fact]
    public async Task Beyond_the_cap_on_handshakes_a_new_client_is_closed_at_once_and_the_entry_point_still_serves()
    {
        var (rig, socks, web) = await StartAsync(o => o with { MaxEntryPointHandshakes = 2, EntryPointHandshakeTimeout = TimeSpan.FromSeconds(60) });
        await using var _ = rig;
        await using var __ = web;
        // Silent clients, one at a time: each is held in its handshake until the cap is reached, then the next is
        // closed at once (each admitted one is given a second, so the entry point has counted it before the next).
        var held = new List<Socket>();
        Socket? closed = null;
        for (var i = 0; i < 10 && closed is null; i++)
        {
            var client = await Net.ConnectAsync(socks);
            if (await ClosedWithinAsync(client, TimeSpan.FromSeconds(1))) closed = client;
            else held.Add(client);
        }
        Assert.NotNull(closed);
        closed.Dispose();
        Assert.Equal(2, held.Count);

        foreach (var client in held) client.Dispose();
        var served = false;
        for (var i = 0; i < 30 && !served; i++)
        {
            served = (await Curl.RunAsync("--max-time", "5", "--socks5-hostname", $"127.0.0.1:{socks}", $"http://127.0.0.1:{web.Port}/")).Stdout == "still serving";
            if (!served) await Task.Delay(500);
        }
        Assert.True(served, "the entry point does not serve again once the silent clients left");
    }

    [Theory]
    [InlineData("socks")]
    [InlineData("http-proxy")]
    public async Task An_entry_point_off_loopback_without_proxy_auth_refuses_to_start(string which)
    {
        var log = new TestLog(output);
        var everywhere = new HostPort("0.0.0.0", 0);
        var options = new EndOptions
        {
            Middles = [new HostPort("127.0.0.1", Net.FreePort())],
            Secret = "entry point limits",
            Socks = which == "socks" ? everywhere : null,
            HttpProxy = which == "http-proxy" ? everywhere : null,
        };

        var refused = Assert.Throws<FormatException>(() => EndProxyHost.Start(options, log));
        Assert.Contains("--proxy-auth", refused.Message, StringComparison.Ordinal);

        await using var withAuth = EndProxyHost.Start(options with { ProxyAuth = "user:pass" }, log);
        Assert.Single(withAuth.Listeners);
    }
}

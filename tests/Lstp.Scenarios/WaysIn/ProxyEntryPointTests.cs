using System.Net;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.WaysIn;

/// <summary>The tunnel as one SOCKS5 server and one HTTP CONNECT proxy, checked with the real curl.</summary>
public sealed class ProxyEntryPointTests(ITestOutputHelper output)
{
    private async Task<(TunnelRig Rig, int Socks, int Http)> StartAsync(HttpTextServer web, params string[] allow)
    {
        // Port 0, read back from the listeners: a port picked free beforehand may be taken by the time it binds.
        var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string>(),
            server: o => o with { Allow = allow },
            client: o => o with { Socks = new HostPort("127.0.0.1", 0), HttpProxy = new HostPort("127.0.0.1", 0) });
        await rig.OpenAsync();
        var socks = rig.Client.Listeners.Single(l => l.What.StartsWith("socks ", StringComparison.Ordinal)).Address.Port;
        var http = rig.Client.Listeners.Single(l => l.What.StartsWith("http-proxy ", StringComparison.Ordinal)).Address.Port;
        return (rig, socks, http);
    }

    public static TheoryData<string, string, string, bool> Cases => new()
    {
        // name, the server end's --allow (PORT is the web server's port), target, allowed?
        { "allowed address and port", "127.0.0.1:PORT", "127.0.0.1:PORT", true },
        { "allowed name whose address a CIDR rule covers", "127.0.0.0/8:PORT", "localhost:PORT", true },
        { "destination off the list", "127.0.0.1:PORT", "127.0.0.2:PORT", false },
        { "forbidden port", "127.0.0.1:PORT", "127.0.0.1:1", false },
        { "name resolving to a forbidden address", "localhost:*", "localhost:PORT", false },
    };

    private static string Fill(string text, int port) => text.Replace("PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Curl_through_socks_gets_the_right_answer(string name, string allow, string target, bool allowed)
    {
        await using var web = new HttpTextServer("hello through socks");
        var (rig, socks, _) = await StartAsync(web, Fill(allow, web.Port));
        await using var __ = rig;

        var (exit, stdout, stderr) = await Curl.RunAsync("--socks5-hostname", $"127.0.0.1:{socks}", $"http://{Fill(target, web.Port)}/");
        output.WriteLine($"{name}: exit {exit} {stdout} {stderr}");

        if (allowed)
        {
            Assert.Equal(0, exit);
            Assert.Equal("hello through socks", stdout);
        }
        else
        {
            Assert.Equal(97, exit); // CURLE_PROXY
            Assert.EndsWith("(2)", stderr.Trim(), StringComparison.Ordinal); // SOCKS5 reply 2: not allowed by ruleset
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Curl_through_the_http_proxy_gets_the_right_status(string name, string allow, string target, bool allowed)
    {
        await using var web = new HttpTextServer("hello through connect");
        var (rig, _, http) = await StartAsync(web, Fill(allow, web.Port));
        await using var __ = rig;

        var (exit, stdout, stderr) = await Curl.RunAsync("--proxytunnel", "--proxy", $"http://127.0.0.1:{http}", $"http://{Fill(target, web.Port)}/");
        output.WriteLine($"{name}: exit {exit} {stdout} {stderr}");

        if (allowed)
        {
            Assert.Equal(0, exit);
            Assert.Equal("hello through connect", stdout);
        }
        else
        {
            Assert.Equal(56, exit);
            Assert.Contains("response 403", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unreachable_destination_is_a_502_and_a_host_unreachable_reply()
    {
        await using var web = new HttpTextServer("unused");
        var closed = Net.FreePort();
        var (rig, socks, http) = await StartAsync(web, $"127.0.0.1:{closed}");
        await using var _ = rig;

        var viaHttp = await Curl.RunAsync("--proxytunnel", "--proxy", $"http://127.0.0.1:{http}", $"http://127.0.0.1:{closed}/");
        Assert.Contains("502", viaHttp.Stderr, StringComparison.Ordinal);
        var viaSocks = await Curl.RunAsync("--socks5-hostname", $"127.0.0.1:{socks}", $"http://127.0.0.1:{closed}/");
        Assert.Equal(97, viaSocks.Exit);
        Assert.EndsWith("(5)", viaSocks.Stderr.Trim(), StringComparison.Ordinal); // SOCKS5 reply 5: connection refused
    }

    [Fact]
    public async Task The_server_end_enforces_its_list_even_when_the_client_does_not_check()
    {
        // The client end refuses early from the pushed policy; this checks the server end on its own.
        await using var web = new HttpTextServer("should not be reached");
        var policy = new EndProxy.Policy.DestinationPolicy(EndProxy.Policy.AllowList.Parse([$"127.0.0.1:{web.Port + 1}"]));
        var dial = await policy.DialAsync("127.0.0.1", (ushort)web.Port, CancellationToken.None);
        Assert.Null(dial.Socket);
        Assert.Equal(Protocol.ErrorCode.NotAllowed, dial.Code);
        var mapped = await policy.DialAsync(IPAddress.Parse("127.0.0.1").MapToIPv6().ToString(), (ushort)web.Port, CancellationToken.None);
        Assert.Equal(Protocol.ErrorCode.NotAllowed, mapped.Code);
        Assert.Equal(0, web.Requests);
    }
}

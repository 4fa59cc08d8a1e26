using System.Net.Sockets;
using System.Text;
using Lstp.Testing;
using Lstp.Transport.Dialing;
using Lstp.Transport.Tests.Support;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class HttpConnectDialerTests
{
    private const string User = "bob";
    private const string Password = "s3cret";

    [Fact]
    public async Task Dial_ThroughTinyproxy_RoundTripsBytes()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartTinyproxyAsync([echo.Port]);

        await using var stream = await new HttpConnectDialer(proxy.Address).DialAsync(echo.Target, CancellationToken.None);

        Assert.True(Assert.IsType<NetworkStream>(stream).Socket.NoDelay);
        await Echo.AssertRoundTripAsync(stream);
    }

    [Fact]
    public async Task Dial_ThroughTinyproxyWithBasicAuth_ByName_RoundTripsBytes()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartTinyproxyAsync([echo.Port], User, Password);
        var dialer = new HttpConnectDialer(proxy.Address, new ProxyCredentials(User, Password));

        await using var stream = await dialer.DialAsync(new HostPort("localhost", echo.Port), CancellationToken.None);

        await Echo.AssertRoundTripAsync(stream);
    }

    [Fact]
    public async Task Dial_WrongPassword_ThrowsProxyAuthenticationWithoutThePassword()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartTinyproxyAsync([echo.Port], User, Password);
        var dialer = new HttpConnectDialer(proxy.Address, new ProxyCredentials(User, "wrong-hunter2"));

        var ex = await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(echo.Target, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyAuthentication, ex.Failure);
        Assert.Contains("rejected the credentials bob:***", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }

    [Fact]
    public async Task Dial_NoCredentialsToAuthProxy_ThrowsProxyAuthentication()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartTinyproxyAsync([echo.Port], User, Password);

        var ex = await Assert.ThrowsAsync<DialException>(() => new HttpConnectDialer(proxy.Address).DialAsync(echo.Target, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyAuthentication, ex.Failure);
        Assert.Contains("requires authentication", ex.Message);
    }

    [Fact]
    public async Task Dial_PortNotInConnectPort_ThrowsProxyRefusedWithStatusLine()
    {
        await using var allowed = new EchoServer();
        await using var other = new EchoServer();
        await using var proxy = await ProxyProcess.StartTinyproxyAsync([allowed.Port]);

        var ex = await Assert.ThrowsAsync<DialException>(() => new HttpConnectDialer(proxy.Address).DialAsync(other.Target, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyRefused, ex.Failure);
        Assert.Contains($"refused CONNECT to {other.Target}: HTTP/1.1 403", ex.Message);
    }

    [Fact]
    public async Task Dial_ProxyDown_ThrowsUnreachable()
    {
        var proxy = new HostPort("127.0.0.1", Net.FreePort());

        var ex = await Assert.ThrowsAsync<DialException>(() => new HttpConnectDialer(proxy).DialAsync(new HostPort("127.0.0.1", 7), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Unreachable, ex.Failure);
        Assert.Contains($"cannot reach HTTP proxy {proxy}", ex.Message);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 Connection established\r\nProxy-agent: test\r\n\r\n")]
    [InlineData("HTTP/1.0 200 OK\n\n")]
    public async Task Dial_ResponseAndTunnelBytesInOneSegment_KeepsTheTunnelBytes(string response)
    {
        var request = new TaskCompletionSource<string>();
        await using var proxy = new ScriptedProxy(async stream =>
        {
            request.SetResult(await ScriptedProxy.ReadHttpHeadAsync(stream));
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response + "HELLO"));
            await ScriptedProxy.DrainAsync(stream);
        });
        var dialer = new HttpConnectDialer(proxy.Address, new ProxyCredentials("bob", "pw"));

        await using var tunnel = await dialer.DialAsync(new HostPort("::1", 7700), CancellationToken.None);
        var first = new byte[5];
        await tunnel.ReadExactlyAsync(first);

        Assert.Equal("HELLO", Encoding.ASCII.GetString(first));
        Assert.Equal("CONNECT [::1]:7700 HTTP/1.1\r\nHost: [::1]:7700\r\nProxy-Authorization: Basic Ym9iOnB3\r\n\r\n", await request.Task);
    }

    [Theory]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\n\r\n", DialFailure.ProxyRefused, "refused CONNECT to 10.1.2.3:443: HTTP/1.1 502 Bad Gateway")]
    [InlineData("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", DialFailure.ProxyAuthentication, "requires authentication (HTTP/1.1 407")]
    [InlineData("HTTP/1.0 401 Unauthorized\r\n\r\n", DialFailure.ProxyAuthentication, "requires authentication (HTTP/1.0 401")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n", DialFailure.ProxyProtocol, "answered CONNECT with 'SSH-2.0-OpenSSH_9.2', not an HTTP/1.x status line")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n", DialFailure.ProxyProtocol, "not an HTTP/1.x status line")]
    [InlineData("", DialFailure.ProxyProtocol, "closed the connection without answering CONNECT")]
    [InlineData("HTTP/1.1 200 Connection est", DialFailure.ProxyProtocol, "closed the connection in the middle of its answer ('HTTP/1.1 200 Connection est')")]
    public async Task Dial_UnexpectedResponse_IsSorted(string response, DialFailure failure, string message)
    {
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await ScriptedProxy.ReadHttpHeadAsync(stream);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response)); // then close
        });

        var ex = await Assert.ThrowsAsync<DialException>(() => new HttpConnectDialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(failure, ex.Failure);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public async Task Dial_EndlessHeaders_ThrowsProxyProtocolAndClosesTheSocket()
    {
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await ScriptedProxy.ReadHttpHeadAsync(stream);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\n"u8.ToArray());
            var header = "X-Filler: 0123456789abcdef0123456789abcdef\r\n"u8.ToArray();
            for (var i = 0; i < 1000; i++) await stream.WriteAsync(header); // 44 KB, over the cap
            await ScriptedProxy.DrainAsync(stream);
        });

        var ex = await Assert.ThrowsAsync<DialException>(() => new HttpConnectDialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyProtocol, ex.Failure);
        Assert.Contains("bytes of response headers", ex.Message);
        await Eventually.TrueAsync(() => proxy.Closed == 1, "the dialer closes its connection to the proxy");
    }

    [Fact]
    public async Task Dial_HostWithLineBreak_IsRejectedBeforeSending()
    {
        var ex = await Assert.ThrowsAsync<DialException>(() =>
            new HttpConnectDialer(new HostPort("127.0.0.1", Net.FreePort())).DialAsync(new HostPort("a\r\nX-Evil: 1", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Unreachable, ex.Failure);
        Assert.Contains("not a valid host name", ex.Message);
    }
}

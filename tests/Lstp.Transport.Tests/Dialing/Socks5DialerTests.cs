using System.Net.Sockets;
using System.Text;
using Lstp.Testing;
using Lstp.Transport.Dialing;
using Lstp.Transport.Tests.Support;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class Socks5DialerTests
{
    private const string User = "bob";
    private const string Password = "s3cret:p@ss";

    [Fact]
    public async Task Dial_ThroughMicrosocks_RoundTripsBytes()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartMicrosocksAsync();

        await using var stream = await new Socks5Dialer(proxy.Address).DialAsync(echo.Target, CancellationToken.None);

        Assert.True(Assert.IsType<NetworkStream>(stream).Socket.NoDelay);
        await Echo.AssertRoundTripAsync(stream);
    }

    [Fact]
    public async Task Dial_ThroughMicrosocksWithPassword_ByName_RoundTripsBytes()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartMicrosocksAsync(User, Password);
        var dialer = new Socks5Dialer(proxy.Address, new ProxyCredentials(User, Password));

        // "localhost" goes as a domain name (ATYP 3): the proxy resolves it.
        await using var stream = await dialer.DialAsync(new HostPort("localhost", echo.Port), CancellationToken.None);

        await Echo.AssertRoundTripAsync(stream);
    }

    [Fact]
    public async Task Dial_WrongPassword_ThrowsProxyAuthenticationWithoutThePassword()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartMicrosocksAsync(User, Password);
        var dialer = new Socks5Dialer(proxy.Address, new ProxyCredentials(User, "wrong-hunter2"));

        var ex = await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(echo.Target, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyAuthentication, ex.Failure);
        Assert.Contains("bob:***", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }

    [Fact]
    public async Task Dial_NoCredentialsToPasswordProxy_ThrowsProxyAuthentication()
    {
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartMicrosocksAsync(User, Password);

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy.Address).DialAsync(echo.Target, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyAuthentication, ex.Failure);
        Assert.Contains("requires authentication", ex.Message);
    }

    [Fact]
    public async Task Dial_ProxyDown_ThrowsUnreachable()
    {
        var proxy = new HostPort("127.0.0.1", Net.FreePort());

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy).DialAsync(new HostPort("127.0.0.1", 7), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Unreachable, ex.Failure);
        Assert.Contains($"cannot reach SOCKS5 proxy {proxy}", ex.Message);
    }

    [Fact]
    public async Task Dial_TargetRefusedBehindMicrosocks_ThrowsProxyRefused()
    {
        await using var proxy = await ProxyProcess.StartMicrosocksAsync();
        var closed = new HostPort("127.0.0.1", Net.FreePort());

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy.Address).DialAsync(closed, CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyRefused, ex.Failure);
        Assert.Contains($"could not connect to {closed}: Connection refused", ex.Message);
    }

    [Fact]
    public async Task Dial_RulesetReply_ThrowsProxyRefusedWithRfcText()
    {
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[3]);
            await stream.WriteAsync(new byte[] { 5, 0 });
            await stream.ReadExactlyAsync(new byte[10]); // CONNECT to an IPv4 address
            await stream.WriteAsync(new byte[] { 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 });
        });

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyRefused, ex.Failure);
        Assert.EndsWith("could not connect to 10.1.2.3:443: connection not allowed by ruleset", ex.Message);
    }

    [Fact]
    public async Task Dial_ReplyAndTunnelBytesInOneSegment_KeepsTheTunnelBytes()
    {
        var request = new TaskCompletionSource<byte[]>();
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[3]);
            await stream.WriteAsync(new byte[] { 5, 0 });
            var connect = new byte[4 + 1 + "middle.example".Length + 2];
            await stream.ReadExactlyAsync(connect);
            request.SetResult(connect);
            // Reply with a domain-name BND.ADDR (the variable-length case) and the tunnel's first bytes right behind it.
            byte[] reply = [5, 0, 0, 3, 13, .. "proxy.example"u8, 0x1f, 0x90, .. "HELLO"u8];
            await stream.WriteAsync(reply);
            await ScriptedProxy.DrainAsync(stream);
        });

        await using var tunnel = await new Socks5Dialer(proxy.Address).DialAsync(new HostPort("middle.example", 7700), CancellationToken.None);
        var first = new byte[5];
        await tunnel.ReadExactlyAsync(first);

        Assert.Equal("HELLO", Encoding.ASCII.GetString(first));
        Assert.Equal([5, 1, 0, 3, 14, .. "middle.example"u8, 0x1e, 0x14], await request.Task);
    }

    [Fact]
    public async Task Dial_NotASocksServer_ThrowsProxyProtocolAndClosesTheSocket()
    {
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await stream.WriteAsync("SSH-2.0-OpenSSH_9.2\r\n"u8.ToArray());
            await ScriptedProxy.DrainAsync(stream);
        });

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyProtocol, ex.Failure);
        Assert.Contains("is not a SOCKS5 proxy (it answered 'SS')", ex.Message);
        await Eventually.TrueAsync(() => proxy.Closed == 1, "the dialer closes its connection to the proxy");
    }

    [Fact]
    public async Task Dial_ProxyClosesAfterRequest_ThrowsProxyProtocol()
    {
        await using var proxy = new ScriptedProxy(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[3]);
            await stream.WriteAsync(new byte[] { 5, 0 });
            await stream.ReadExactlyAsync(new byte[10]);
        });

        var ex = await Assert.ThrowsAsync<DialException>(() => new Socks5Dialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.ProxyProtocol, ex.Failure);
        Assert.Contains("closed the connection during the handshake", ex.Message);
    }

    [Fact]
    public async Task Dial_SilentProxy_TimesOutAndClosesTheSocket()
    {
        await using var proxy = new ScriptedProxy(ScriptedProxy.DrainAsync);
        var dialer = new Socks5Dialer(proxy.Address, connectTimeout: TimeSpan.FromMilliseconds(300));

        var ex = await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(new HostPort("10.1.2.3", 443), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Timeout, ex.Failure);
        Assert.Contains("within 0.3 s", ex.Message);
        await Eventually.TrueAsync(() => proxy.Closed == 1, "the dialer closes its connection to the proxy");
    }

    [Fact]
    public async Task Dial_CallerCancels_ThrowsOperationCanceledNotDialException()
    {
        await using var proxy = new ScriptedProxy(ScriptedProxy.DrainAsync);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new Socks5Dialer(proxy.Address).DialAsync(new HostPort("10.1.2.3", 443), cancel.Token).AsTask());
    }

    [Fact]
    public void Constructor_OverlongUserName_Throws() =>
        Assert.Throws<ArgumentException>(() => new Socks5Dialer(new HostPort("proxy", 1080), new ProxyCredentials(new string('u', 256), "pw")));

    [Theory]
    [InlineData(0x01, "general SOCKS server failure")]
    [InlineData(0x04, "Host unreachable")]
    [InlineData(0x08, "Address type not supported")]
    [InlineData(0x09, "unassigned reply code 0x09")]
    public void ReplyText_UsesRfc1928Wording(byte reply, string text) => Assert.Equal(text, Socks5Dialer.ReplyText(reply));
}

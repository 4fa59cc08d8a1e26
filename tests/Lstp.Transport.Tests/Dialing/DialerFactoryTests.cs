using Lstp.Testing;
using Lstp.Transport.Dialing;
using Lstp.Transport.Tests.Support;
using Xunit;
using static Lstp.Transport.Tests.Dialing.ProxyEnvironmentTests;

namespace Lstp.Transport.Tests.Dialing;

public sealed class DialerFactoryTests
{
    [Fact]
    public void Create_WithVia_UsesItAndIgnoresTheEnvironment()
    {
        var dialer = DialerFactory.Create("socks5://bob:pw@proxy:1080", Env("HTTPS_PROXY=http://other:3128", "NO_PROXY=*"));

        var socks = Assert.IsType<Socks5Dialer>(dialer);
        Assert.Equal(new HostPort("proxy", 1080), socks.Proxy);
        Assert.Equal(new ProxyCredentials("bob", "pw"), socks.Credentials);
    }

    [Fact]
    public void Create_HttpVia_GivesHttpConnectDialer() =>
        Assert.Equal(new HostPort("proxy", 3128), Assert.IsType<HttpConnectDialer>(DialerFactory.Create("http://proxy:3128", Env())).Proxy);

    [Fact]
    public void Create_NoViaNoEnvironment_DialsDirectly() => Assert.IsType<TcpDialer>(DialerFactory.Create(null, Env("HTTP_PROXY=http://p:1")));

    [Fact]
    public void Create_FromEnvironment_RoutesPerTarget()
    {
        var dialer = Assert.IsType<ProxyRoutingDialer>(DialerFactory.Create(" ", Env("ALL_PROXY=socks5://proxy:1080", "NO_PROXY=10.0.0.0/8,.corp.example")));

        Assert.Null(dialer.RouteFor(new HostPort("10.1.1.1", 7700)));
        Assert.Null(dialer.RouteFor(new HostPort("mid.corp.example", 7700)));
        Assert.Equal("socks5://proxy:1080", dialer.RouteFor(new HostPort("middle.example.net", 7700))?.ToString());
    }

    [Fact]
    public void Create_BadVia_ThrowsFormatException() =>
        Assert.Contains("unsupported scheme", Assert.Throws<FormatException>(() => DialerFactory.Create("ftp://proxy:21", Env())).Message);

    [Fact]
    public async Task Dial_NoProxyTarget_GoesDirect_OthersGoToTheProxy()
    {
        await using var echo = new EchoServer();
        var downProxyPort = Net.FreePort(); // nothing listens: only the proxied dial can notice
        var dialer = DialerFactory.Create(null, Env($"ALL_PROXY=socks5://127.0.0.1:{downProxyPort}", "NO_PROXY=127.0.0.1"));

        await using (var direct = await dialer.DialAsync(echo.Target, CancellationToken.None))
            await Echo.AssertRoundTripAsync(direct);
        var ex = await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(new HostPort("localhost", echo.Port), CancellationToken.None).AsTask());

        Assert.Equal(DialFailure.Unreachable, ex.Failure);
        Assert.Contains($"SOCKS5 proxy 127.0.0.1:{downProxyPort}", ex.Message);
    }
}

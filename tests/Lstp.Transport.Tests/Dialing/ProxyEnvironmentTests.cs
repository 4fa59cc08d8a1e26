using System.Collections;
using Lstp.Transport.Dialing;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class ProxyEnvironmentTests
{
    /// <summary>An environment block as <see cref="Environment.GetEnvironmentVariables()"/> returns it, from NAME=VALUE pairs.</summary>
    internal static Hashtable Env(params string[] pairs)
    {
        var table = new Hashtable();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=');
            table[pair[..equals]] = pair[(equals + 1)..];
        }
        return table;
    }

    [Theory]
    [InlineData(new string[0], null, null)]
    [InlineData(new[] { "HTTPS_PROXY=http://upper:3128" }, "http://upper:3128", "HTTPS_PROXY")]
    [InlineData(new[] { "https_proxy=http://lower:3128", "HTTPS_PROXY=http://upper:3128" }, "http://lower:3128", "https_proxy")]
    [InlineData(new[] { "ALL_PROXY=socks5://all:1080", "HTTPS_PROXY=http://https:3128" }, "http://https:3128", "HTTPS_PROXY")]
    [InlineData(new[] { "all_proxy=socks5://lower:1080", "ALL_PROXY=socks5://upper:1080" }, "socks5://lower:1080", "all_proxy")]
    [InlineData(new[] { "http_proxy=http://plain:3128", "HTTP_PROXY=http://plain:3128" }, null, null)]
    [InlineData(new[] { "https_proxy=", "HTTPS_PROXY=http://upper:3128" }, "http://upper:3128", "HTTPS_PROXY")]
    [InlineData(new[] { "ALL_PROXY=proxy.corp:3128" }, "http://proxy.corp:3128", "ALL_PROXY")]
    [InlineData(new[] { "ALL_PROXY=socks5h://bob:pw@proxy.corp:1080" }, "socks5://bob:***@proxy.corp:1080", "ALL_PROXY")]
    public void FromEnvironment_PicksProxyWithCurlPrecedence(string[] pairs, string? proxy, string? source)
    {
        var environment = ProxyEnvironment.FromEnvironment(Env(pairs));

        Assert.Equal(proxy, environment.Proxy?.ToString());
        Assert.Equal(source, environment.Source);
    }

    [Theory]
    [InlineData("no_proxy=corp.example", "mid.corp.example", false)]
    [InlineData("no_proxy=corp.example", "middle.example.net", true)]
    [InlineData("NO_PROXY=*", "middle.example.net", false)]
    [InlineData("NO_PROXY=10.0.0.0/8", "10.77.0.10", false)]
    public void ProxyFor_HonoursNoProxy(string noProxy, string host, bool proxied)
    {
        var environment = ProxyEnvironment.FromEnvironment(Env("ALL_PROXY=socks5://proxy:1080", noProxy));

        Assert.Equal(proxied, environment.ProxyFor(new HostPort(host, 7700)) is not null);
    }

    [Fact]
    public void ProxyFor_LowercaseNoProxyWinsOverUppercase()
    {
        var environment = ProxyEnvironment.FromEnvironment(Env("ALL_PROXY=socks5://proxy:1080", "no_proxy=corp.example", "NO_PROXY=*"));

        Assert.Null(environment.ProxyFor(new HostPort("mid.corp.example", 7700)));
        Assert.NotNull(environment.ProxyFor(new HostPort("middle.example.net", 7700)));
    }

    [Fact]
    public void FromEnvironment_BadValue_NamesTheVariableAndHidesThePassword()
    {
        var ex = Assert.Throws<FormatException>(() => ProxyEnvironment.FromEnvironment(Env("HTTPS_PROXY=ftp://bob:hunter2@proxy:21")));

        Assert.StartsWith("HTTPS_PROXY: ", ex.Message);
        Assert.Contains("unsupported scheme 'ftp'", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }
}

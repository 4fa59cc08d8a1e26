using Lstp.Transport.Dialing;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class ViaParserTests
{
    [Theory]
    [InlineData("socks5://127.0.0.1:1080", ProxyKind.Socks5, "127.0.0.1", 1080, null, null)]
    [InlineData("socks5h://proxy.corp:1080", ProxyKind.Socks5, "proxy.corp", 1080, null, null)]
    [InlineData("SOCKS5://proxy.corp:1080", ProxyKind.Socks5, "proxy.corp", 1080, null, null)]
    [InlineData("http://proxy.corp:3128", ProxyKind.HttpConnect, "proxy.corp", 3128, null, null)]
    [InlineData("http://proxy.corp:3128/", ProxyKind.HttpConnect, "proxy.corp", 3128, null, null)]
    [InlineData("  socks5://proxy.corp:1080  ", ProxyKind.Socks5, "proxy.corp", 1080, null, null)]
    [InlineData("socks5://bob:s3cret@proxy:1080", ProxyKind.Socks5, "proxy", 1080, "bob", "s3cret")]
    [InlineData("http://bob%40corp:p%3Ass%25w%20rd@proxy:3128", ProxyKind.HttpConnect, "proxy", 3128, "bob@corp", "p:ss%w rd")]
    [InlineData("socks5://bob@proxy:1080", ProxyKind.Socks5, "proxy", 1080, "bob", "")]
    [InlineData("socks5://bob:p@ss@proxy:1080", ProxyKind.Socks5, "proxy", 1080, "bob", "p@ss")]
    [InlineData("socks5://b%C3%BCr:pw@proxy:1080", ProxyKind.Socks5, "proxy", 1080, "bür", "pw")]
    [InlineData("http://[::1]:3128", ProxyKind.HttpConnect, "::1", 3128, null, null)]
    public void Parse_ValidValue_GivesProxySettings(string value, ProxyKind kind, string host, int port, string? user, string? password)
    {
        var settings = ViaParser.Parse(value);

        Assert.Equal(kind, settings.Kind);
        Assert.Equal(new HostPort(host, port), settings.Address);
        Assert.Equal(user, settings.Credentials?.UserName);
        Assert.Equal(password, settings.Credentials?.Password);
    }

    [Theory]
    [InlineData("", "empty proxy address")]
    [InlineData("   ", "empty proxy address")]
    [InlineData("proxy:1080", "no scheme")]
    [InlineData("https://bob:hunter2@proxy:443", "unsupported scheme 'https'")]
    [InlineData("socks4://proxy:1080", "unsupported scheme 'socks4'")]
    [InlineData("socks5://bob:hunter2@proxy", "has no port")]
    [InlineData("socks5://proxy:99999", "invalid port")]
    [InlineData("socks5://bob:hunter2@proxy:0", "port 0")]
    [InlineData("http://bob:hunter2@proxy:3128/path", "no path")]
    [InlineData("http://proxy:3128?x=1", "no path")]
    [InlineData("socks5://:hunter2@proxy:1080", "empty user name")]
    [InlineData("socks5://bob:hunter2%@proxy:1080", "percent-encoding")]
    [InlineData("socks5://bob:hunter2%zz@proxy:1080", "percent-encoding")]
    [InlineData("http://a%3Ab:hunter2@proxy:3128", "cannot contain ':'")]
    [InlineData("socks5://bob:hunter2@", "empty address")]
    [InlineData("socks5://bob:hunter2@:1080", "empty host")]
    public void Parse_BadValue_ThrowsOneLineWithoutPassword(string value, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => ViaParser.Parse(value));

        Assert.Contains(reason, ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Parse_OverlongSocksPassword_IsRejected()
    {
        var ex = Assert.Throws<FormatException>(() => ViaParser.Parse($"socks5://bob:{new string('x', 256)}@proxy:1080"));

        Assert.Contains("255 bytes", ex.Message);
    }

    [Theory]
    [InlineData("proxy:3128", "http", ProxyKind.HttpConnect)]
    [InlineData("socks5://proxy:3128", "http", ProxyKind.Socks5)]
    public void Parse_DefaultScheme_AppliesOnlyWithoutScheme(string value, string defaultScheme, ProxyKind kind) =>
        Assert.Equal(kind, ViaParser.Parse(value, defaultScheme).Kind);

    [Theory]
    [InlineData("socks5://bob:hunter2@proxy:1080", "socks5://bob:***@proxy:1080")]
    [InlineData("http://bob:p@ss@proxy:1080", "http://bob:***@proxy:1080")]
    [InlineData("bob:hunter2@proxy:1080", "bob:***@proxy:1080")]
    [InlineData("socks5://bob@proxy:1080", "socks5://bob@proxy:1080")]
    [InlineData("socks5://proxy:1080", "socks5://proxy:1080")]
    public void Redact_HidesOnlyThePassword(string value, string expected) => Assert.Equal(expected, ViaParser.Redact(value));

    [Fact]
    public void ProxySettings_ToString_MasksThePassword()
    {
        var settings = ViaParser.Parse("socks5h://bob:hunter2@proxy:1080");

        Assert.Equal("socks5://bob:***@proxy:1080", settings.ToString());
        Assert.Equal("bob:***", settings.Credentials!.ToString());
    }
}

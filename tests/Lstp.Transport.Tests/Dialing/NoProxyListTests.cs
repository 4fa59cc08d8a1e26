using Lstp.Transport.Dialing;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

public sealed class NoProxyListTests
{
    [Theory]
    [InlineData(null, "middle.example", false)]
    [InlineData("", "middle.example", false)]
    [InlineData("*", "middle.example", true)]
    [InlineData("*", "10.0.0.1", true)]
    [InlineData("corp.example", "corp.example", true)]
    [InlineData("corp.example", "mid.corp.example", true)]
    [InlineData("corp.example", "notcorp.example", false)]
    [InlineData("corp.example", "corp.example.net", false)]
    [InlineData(".corp.example", "corp.example", true)]
    [InlineData(".corp.example", "a.b.corp.example", true)]
    [InlineData("CORP.example", "Mid.Corp.Example.", true)]
    [InlineData("localhost, 10.0.0.1", "10.0.0.1", true)]
    [InlineData("localhost,10.0.0.1", "10.0.0.2", false)]
    [InlineData("a.example b.example\tc.example", "x.b.example", true)]
    [InlineData("0.0.1", "10.0.0.1", false)]
    [InlineData("10.0.0.0/8", "10.77.0.10", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.1.2.3/8", "10.200.0.1", true)]
    [InlineData("10.0.0.0/8", "mid.corp.example", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.0.0.1", true)]
    [InlineData("[::1]", "::1", true)]
    [InlineData("::1", "[::1]", true)]
    [InlineData("fd00::/8", "fd12::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("10.0.0.0/99, bad/x", "10.0.0.1", false)]
    public void Matches_FollowsCurlNoProxyRules(string? noProxy, string host, bool expected) =>
        Assert.Equal(expected, NoProxyList.Parse(noProxy).Matches(host));
}

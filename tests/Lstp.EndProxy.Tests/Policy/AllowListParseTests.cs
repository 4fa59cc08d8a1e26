using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.Tests.Policy;

public class AllowListParseTests
{
    [Theory]
    [InlineData("10.0.0.0/8:443", "10.0.0.0/8:443")]
    [InlineData("192.168.1.5:22", "192.168.1.5:22")]
    [InlineData("192.168.1.5/32:22", "192.168.1.5:22")]
    [InlineData(" 10.0.0.1:443-443 ", "10.0.0.1:443")]
    [InlineData("10.0.0.0/8:1-65535", "10.0.0.0/8:*")]
    [InlineData("0.0.0.0/0:*", "0.0.0.0/0:*")]
    [InlineData("::1/128:80", "[::1]:80")]
    [InlineData("[::1]:80", "[::1]:80")]
    [InlineData("2001:db8::/32:443", "[2001:db8::]/32:443")]
    [InlineData("[2001:db8::]/32:*", "[2001:db8::]/32:*")]
    [InlineData("[2001:DB8::/32]:8000-8100", "[2001:db8::]/32:8000-8100")]
    [InlineData("[::ffff:10.0.0.0]/104:443", "10.0.0.0/8:443")]
    [InlineData("[::ffff:10.0.0.1]:443", "10.0.0.1:443")]
    [InlineData("DB.Corp.Example.:5432", "db.corp.example:5432")]
    [InlineData("*.corp.example:8000-8100", "*.corp.example:8000-8100")]
    [InlineData("*:443", "*:443")]
    [InlineData("svc_01.internal:*", "svc_01.internal:*")]
    public void Parse_WritesEachPatternInItsNormalisedSpelling(string pattern, string normalised)
    {
        var list = AllowList.Parse([pattern]);

        Assert.Equal([normalised], list.Patterns);
    }

    [Theory]
    [InlineData("db.corp.example", "no port; write db.corp.example:PORT, db.corp.example:LOW-HIGH, or db.corp.example:* for every port")]
    [InlineData("10.0.0.0/8", "no port")]
    [InlineData("[::1]", "no port")]
    [InlineData("::1:443", "write IPv6 addresses in brackets")]
    [InlineData("db:443:22", "more than one ':'")]
    [InlineData("10.0.0.0/33:443", "prefix length '/33' is not 0-32")]
    [InlineData("[::]/129:443", "prefix length '/129' is not 0-128")]
    [InlineData("10.0.0.0/x:443", "prefix length '/x'")]
    [InlineData("10.1.2.3/8:443", "did you mean 10.0.0.0/8?")]
    [InlineData("[2001:db8::1]/32:443", "did you mean 2001:db8::/32?")]
    [InlineData("db:0", "ports are 1-65535")]
    [InlineData("db:70000", "ports are 1-65535")]
    [InlineData("db:", "port '' is not")]
    [InlineData("db:abc", "port 'abc' is not PORT, LOW-HIGH or *")]
    [InlineData("db:100-10", "runs backwards")]
    [InlineData("a.*.example:443", "'*' may only stand alone or start a host pattern")]
    [InlineData("*db.example:443", "'*' may only")]
    [InlineData("db.corp/24:443", "a host pattern takes no /LEN")]
    [InlineData("10.0.0:443", "'10.0.0' is not an IPv4 address")]
    [InlineData("10.0.0.256:443", "is not an IPv4 address")]
    [InlineData("[::1:443", "missing ']'")]
    [InlineData("[10.0.0.1]:443", "'10.0.0.1' is not an IPv6 address")]
    [InlineData("[fe80::1%2]:443", "zone id")]
    [InlineData("bad host!:443", "'bad host!' is not a host name")]
    [InlineData("", "empty pattern")]
    [InlineData("   ", "empty pattern")]
    [InlineData("[::1]x:443", "unexpected 'x:443'")]
    public void Parse_BadPattern_ThrowsOneLineNamingThePatternAndTheFix(string pattern, string expected)
    {
        var error = Assert.Throws<FormatException>(() => AllowList.Parse(["10.0.0.0/8:22", pattern]));

        Assert.StartsWith($"--allow '{pattern}': ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Parse_NoPatterns_GivesAnEmptyListThatAllowsNothing()
    {
        var list = AllowList.Parse([]);

        Assert.True(list.IsEmpty);
        Assert.Empty(list.Patterns);
        Assert.False(list.CheckName("db.corp.example", 443).IsAllowed);
        Assert.False(list.CheckName("10.0.0.1", 443).IsAllowed);
        Assert.False(AllowList.Empty.CheckName("anything", 80).IsAllowed);
    }

    [Fact]
    public void Parse_DuplicateSpellingsOfOneRule_AreAnnouncedOnce()
    {
        var list = AllowList.Parse(["db.corp.example:443", "DB.corp.example.:443-443", "10.0.0.0/8:*"]);

        Assert.Equal(["db.corp.example:443", "10.0.0.0/8:*"], list.Patterns);
    }

    [Fact]
    public void Parse_OfItsOwnPatterns_GivesTheSamePatterns()
    {
        var list = AllowList.Parse(["10.0.0.0/8:443", "::1/128:80", "*.corp.example:*", "*:8000-8100", "[::ffff:192.168.0.0]/112:22"]);

        var again = AllowList.Parse(list.Patterns);

        Assert.Equal(list.Patterns, again.Patterns);
    }
}

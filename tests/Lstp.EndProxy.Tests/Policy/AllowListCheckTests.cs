using System.Net;
using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.Tests.Policy;

public class AllowListCheckTests
{
    [Theory]
    // CIDR rules, IPv4 and IPv6, and their ports.
    [InlineData("10.0.0.0/8:443", "10.1.2.3", 443, true)]
    [InlineData("10.0.0.0/8:443", "10.1.2.3", 80, false)]
    [InlineData("10.0.0.0/8:443", "11.0.0.1", 443, false)]
    [InlineData("192.168.1.5:22", "192.168.1.5", 22, true)]
    [InlineData("192.168.1.5:22", "192.168.1.6", 22, false)]
    [InlineData("[2001:db8::]/32:*", "2001:db8:1::5", 65535, true)]
    [InlineData("[2001:db8::]/32:*", "2001:db9::1", 443, false)]
    [InlineData("[2001:db8::]/32:*", "[2001:db8::1]", 443, true)]
    [InlineData("::1/128:80", "::1", 80, true)]
    // IPv4-mapped IPv6 is the IPv4 address it carries, both ways round.
    [InlineData("10.0.0.0/8:443", "::ffff:10.1.2.3", 443, true)]
    [InlineData("10.0.0.0/8:443", "[::ffff:10.1.2.3]", 443, true)]
    [InlineData("[::ffff:10.0.0.0]/104:443", "10.9.9.9", 443, true)]
    [InlineData("[::]/0:*", "::ffff:10.1.2.3", 443, false)]
    // The unspecified address is never dialled, whatever the rules say.
    [InlineData("0.0.0.0/0:*", "0.0.0.0", 443, false)]
    [InlineData("[::]/0:*", "::", 443, false)]
    [InlineData("0.0.0.0/0:*", "::ffff:0.0.0.0", 443, false)]
    // An explicit CIDR rule is what lets the peer reach loopback.
    [InlineData("0.0.0.0/0:*", "127.0.0.1", 443, true)]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080, true)]
    // Host rules never allow IP literals, not even *.
    [InlineData("*:443", "10.0.0.1", 443, false)]
    [InlineData("*:443", "::1", 443, false)]
    [InlineData("*:443", "anything.example", 443, true)]
    [InlineData("*:443", "anything.example", 444, false)]
    // Wildcards match subdomains only, with a dot before the suffix.
    [InlineData("*.corp.example:443", "db.corp.example", 443, true)]
    [InlineData("*.corp.example:443", "a.b.corp.example", 443, true)]
    [InlineData("*.corp.example:443", "DB.CORP.EXAMPLE.", 443, true)]
    [InlineData("*.corp.example:443", "corp.example", 443, false)]
    [InlineData("*.corp.example:443", "xcorp.example", 443, false)]
    [InlineData("*.corp.example:443", "db.corp.example.evil", 443, false)]
    [InlineData("db.corp.example:5432", "db.corp.example", 5432, true)]
    [InlineData("db.corp.example:5432", "db.corp.example", 5433, false)]
    [InlineData("db.corp.example:5432", "db2.corp.example", 5432, false)]
    // Port ranges are inclusive.
    [InlineData("db:8000-8100", "db", 7999, false)]
    [InlineData("db:8000-8100", "db", 8000, true)]
    [InlineData("db:8000-8100", "db", 8100, true)]
    [InlineData("db:8000-8100", "db", 8101, false)]
    // Ports that TCP has no use for, and names DNS could not carry.
    [InlineData("*:*", "db", 0, false)]
    [InlineData("*:*", "db", 65536, false)]
    [InlineData("*:*", "bad name!", 443, false)]
    [InlineData("*:*", "db.corp.example\0.evil", 443, false)]
    // A name with only CIDR rules on its port passes the first check; its addresses decide.
    [InlineData("10.0.0.0/8:443", "db.corp.example", 443, true)]
    [InlineData("10.0.0.0/8:443", "db.corp.example", 80, false)]
    // Deny by default.
    [InlineData("db.corp.example:443", "other.example", 443, false)]
    public void CheckName_AnswersAsTheRulesSay(string pattern, string host, int port, bool allowed)
    {
        var decision = AllowList.Parse([pattern]).CheckName(host, port);

        Assert.True(allowed == decision.IsAllowed, decision.ToString());
        Assert.NotEmpty(decision.Reason);
    }

    [Theory]
    [InlineData("*:443", "93.184.216.34", "example.com", true, "matches *:443")]
    [InlineData("*:443", "127.0.0.1", "localhost", false, "localhost resolves to forbidden address 127.0.0.1 (loopback); allow it explicitly with --allow 127.0.0.1:443")]
    [InlineData("*:443", "::ffff:127.0.0.1", "localhost", false, "resolves to forbidden address 127.0.0.1 (loopback)")]
    [InlineData("*:443", "::1", "localhost", false, "resolves to forbidden address ::1 (loopback); allow it explicitly with --allow [::1]:443")]
    [InlineData("*:443", "169.254.169.254", "metadata.example", false, "resolves to forbidden address 169.254.169.254 (link-local)")]
    [InlineData("*:443", "fe80::1", "router.example", false, "(link-local)")]
    [InlineData("*:443", "224.0.0.1", "group.example", false, "(multicast)")]
    [InlineData("*:443", "ff02::1", "group.example", false, "(multicast)")]
    [InlineData("*:443", "255.255.255.255", "all.example", false, "(broadcast)")]
    [InlineData("*:443", "0.1.2.3", "zero.example", false, "(this-network)")]
    [InlineData("*:443", "0.0.0.0", "zero.example", false, "resolves to forbidden address 0.0.0.0 (unspecified")]
    [InlineData("*:443", "::", "zero.example", false, "resolves to forbidden address :: (unspecified")]
    [InlineData("0.0.0.0/0:443", "0.0.0.0", "zero.example", false, "unspecified")]
    [InlineData("*.corp.example:443", "10.0.0.5", "db.corp.example", true, "db.corp.example:443 matches *.corp.example:443 and resolves to 10.0.0.5")]
    [InlineData("db.corp.example:443", "192.168.1.9", "other.example", false, "no rule allows other.example:443 or 192.168.1.9:443")]
    [InlineData("10.0.0.0/8:443", "10.0.0.5", "db.other", true, "db.other resolves to 10.0.0.5:443, which matches 10.0.0.0/8:443")]
    [InlineData("10.0.0.0/8:443", "::ffff:10.0.0.5", "db.other", true, "which matches 10.0.0.0/8:443")]
    [InlineData("10.0.0.0/8:443", "192.168.0.1", "db.other", false, "no rule allows")]
    [InlineData("127.0.0.0/8:443", "127.0.0.1", "localhost", true, "matches 127.0.0.0/8:443")]
    [InlineData("10.0.0.0/8:443", "10.0.0.5", null, true, "10.0.0.5:443 matches 10.0.0.0/8:443")]
    [InlineData("*:443", "10.0.0.5", null, false, "no rule allows 10.0.0.5:443")]
    [InlineData("[2001:db8::]/32:443", "2001:db8::1", null, true, "[2001:db8::1]:443 matches [2001:db8::]/32:443")]
    public void CheckAddress_AppliesTheDialTimeRule(string pattern, string address, string? name, bool allowed, string reason)
    {
        var decision = AllowList.Parse([pattern]).CheckAddress(IPAddress.Parse(address), 443, name);

        Assert.True(allowed == decision.IsAllowed, decision.ToString());
        Assert.Contains(reason, decision.Reason);
    }

    [Fact]
    public void CheckAddress_ExplicitCidrRule_LetsAHostRuleNameReachLoopback()
    {
        var list = AllowList.Parse(["localhost:8080", "127.0.0.1:8080"]);

        Assert.True(list.CheckAddress(IPAddress.Loopback, 8080, "localhost").IsAllowed);
        Assert.False(list.CheckAddress(IPAddress.Parse("127.0.0.2"), 8080, "localhost").IsAllowed);
    }

    [Fact]
    public void CheckAddress_OnAPortNoRuleCovers_IsDenied()
    {
        var list = AllowList.Parse(["10.0.0.0/8:443", "*.corp.example:443"]);

        Assert.False(list.CheckAddress(IPAddress.Parse("10.0.0.5"), 80, "db.corp.example").IsAllowed);
        Assert.False(list.CheckAddress(IPAddress.Parse("10.0.0.5"), 80, null).IsAllowed);
    }
}

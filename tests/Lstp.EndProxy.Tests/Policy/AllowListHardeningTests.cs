using System.Net;
using System.Net.NetworkInformation;
using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.Tests.Policy;

/// <summary>Regressions from the outside review: ways a host rule let the peer reach what only a CIDR rule may allow.</summary>
public class AllowListHardeningTests
{
    [Theory]
    [InlineData("10.0.0.5.")]
    [InlineData("127.0.0.1.")]
    [InlineData("0x0a.0.0.5.")]
    public void A_literal_with_a_trailing_dot_is_a_literal_and_no_host_rule_allows_it(string host)
    {
        var list = AllowList.Parse(["*:443"], _ => false);

        Assert.False(list.CheckName(host, 443).IsAllowed);
        var resolved = IPAddress.Parse(host.TrimEnd('.'));
        Assert.False(list.CheckAddress(resolved, 443, host).IsAllowed);
    }

    [Fact]
    public void A_literal_with_a_trailing_dot_is_allowed_by_the_CIDR_rule_that_covers_it()
    {
        var list = AllowList.Parse(["10.0.0.0/8:443"], _ => false);

        Assert.True(list.CheckName("10.0.0.5.", 443).IsAllowed);
        Assert.True(list.CheckAddress(IPAddress.Parse("10.0.0.5"), 443, "10.0.0.5.").IsAllowed);
    }

    [Fact]
    public void A_name_that_resolves_to_this_hosts_own_address_needs_a_CIDR_rule()
    {
        var own = IPAddress.Parse("192.0.2.7");
        var hostRuleOnly = AllowList.Parse(["*:443"], a => a.Equals(own));
        var withCidr = AllowList.Parse(["*:443", "192.0.2.7/32:443"], a => a.Equals(own));

        var refused = hostRuleOnly.CheckAddress(own, 443, "me.example");
        Assert.False(refused.IsAllowed);
        Assert.Contains("own host", refused.Reason, StringComparison.Ordinal);
        Assert.True(hostRuleOnly.CheckAddress(IPAddress.Parse("192.0.2.8"), 443, "other.example").IsAllowed);
        Assert.True(withCidr.CheckAddress(own, 443, "me.example").IsAllowed);
    }

    [Fact]
    public void This_hosts_own_interface_addresses_are_known_as_its_own()
    {
        var addresses = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .ToList();
        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.True(OwnAddresses.Contains(a), $"{a} is not known as this host's"));
        Assert.False(OwnAddresses.Contains(IPAddress.Parse("192.0.2.200")), "a documentation address is not this host's");
    }
}

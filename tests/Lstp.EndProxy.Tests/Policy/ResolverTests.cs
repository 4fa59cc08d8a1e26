using System.Net;
using System.Net.Sockets;
using Lstp.EndProxy.Policy;

namespace Lstp.EndProxy.Tests.Policy;

public class ResolverTests
{
    private static Func<string, CancellationToken, Task<IPAddress[]>> Answers(params string[] addresses) =>
        (_, _) => Task.FromResult(addresses.Select(IPAddress.Parse).ToArray());

    private static readonly Func<string, CancellationToken, Task<IPAddress[]>> MustNotResolve =
        (name, _) => throw new InvalidOperationException($"resolved {name}, which the check should have made unnecessary");

    [Fact]
    public async Task A_name_a_host_rule_allows_returns_its_resolved_address()
    {
        var list = AllowList.Parse(["*.corp.example:443"]);

        var (address, decision) = await Resolver.ResolveAndCheckAsync(list, "db.corp.example", 443, Answers("10.0.0.5"), CancellationToken.None);

        Assert.True(decision.IsAllowed, decision.Reason);
        Assert.Equal(IPAddress.Parse("10.0.0.5"), address);
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_is_denied_as_a_forbidden_address()
    {
        var list = AllowList.Parse(["*:443"]);

        var (address, decision) = await Resolver.ResolveAndCheckAsync(list, "localtest.example", 443, Answers("127.0.0.1"), CancellationToken.None);

        Assert.Null(address);
        Assert.False(decision.IsAllowed);
        Assert.Contains("resolves to forbidden address 127.0.0.1", decision.Reason);
    }

    [Fact]
    public async Task The_first_allowed_address_wins_over_forbidden_ones_before_it()
    {
        var list = AllowList.Parse(["*:443"]);

        var (address, _) = await Resolver.ResolveAndCheckAsync(list, "mixed.example", 443, Answers("127.0.0.1", "::ffff:10.0.0.5", "10.0.0.6"), CancellationToken.None);

        // Normalised: the mapped form is dialled as the IPv4 address the check saw.
        Assert.Equal(IPAddress.Parse("10.0.0.5"), address);
    }

    [Fact]
    public async Task A_name_that_only_a_CIDR_rule_can_allow_is_decided_by_its_addresses()
    {
        var list = AllowList.Parse(["10.0.0.0/8:443"]);

        var (inside, allowed) = await Resolver.ResolveAndCheckAsync(list, "db.other", 443, Answers("10.1.1.1"), CancellationToken.None);
        var (outside, denied) = await Resolver.ResolveAndCheckAsync(list, "db.other", 443, Answers("192.168.1.1"), CancellationToken.None);

        Assert.Equal(IPAddress.Parse("10.1.1.1"), inside);
        Assert.True(allowed.IsAllowed);
        Assert.Null(outside);
        Assert.False(denied.IsAllowed);
    }

    [Fact]
    public async Task A_name_no_rule_can_allow_is_denied_without_a_lookup()
    {
        var list = AllowList.Parse(["db.corp.example:443"]);

        var (address, decision) = await Resolver.ResolveAndCheckAsync(list, "other.example", 443, MustNotResolve, CancellationToken.None);

        Assert.Null(address);
        Assert.Equal("no rule allows other.example:443", decision.Reason);
    }

    [Theory]
    [InlineData("10.0.0.7", "10.0.0.7")]
    [InlineData("::ffff:10.0.0.7", "10.0.0.7")]
    [InlineData("[::ffff:10.0.0.7]", "10.0.0.7")]
    public async Task An_IP_literal_is_checked_without_a_lookup_and_returned_normalised(string host, string expected)
    {
        var list = AllowList.Parse(["10.0.0.0/8:443"]);

        var (address, decision) = await Resolver.ResolveAndCheckAsync(list, host, 443, MustNotResolve, CancellationToken.None);

        Assert.True(decision.IsAllowed, decision.Reason);
        Assert.Equal(IPAddress.Parse(expected), address);
    }

    [Fact]
    public async Task The_resolver_is_asked_for_the_normalised_name()
    {
        var list = AllowList.Parse(["db.corp.example:443"]);
        string? asked = null;

        await Resolver.ResolveAndCheckAsync(list, "DB.Corp.Example.", 443, (name, _) =>
        {
            asked = name;
            return Task.FromResult(new[] { IPAddress.Parse("10.0.0.5") });
        }, CancellationToken.None);

        Assert.Equal("db.corp.example", asked);
    }

    [Fact]
    public async Task An_empty_answer_is_host_not_found_not_a_policy_denial()
    {
        var list = AllowList.Parse(["*:443"]);

        var error = await Assert.ThrowsAsync<SocketException>(() =>
            Resolver.ResolveAndCheckAsync(list, "nowhere.example", 443, Answers(), CancellationToken.None));

        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
    }
}

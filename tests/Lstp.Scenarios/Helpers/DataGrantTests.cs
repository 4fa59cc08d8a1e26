using System.Net;
using System.Text;
using Lstp.EndProxy.Helpers;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Helpers;

/// <summary>The service end's side: what the FTP watcher grants, and how long and how often a grant holds.</summary>
public sealed class DataGrantTests(ITestOutputHelper output)
{
    private static readonly IPAddress Server = IPAddress.Parse("10.1.2.3");
    private readonly ManualClock _clock = new();

    private (DataGrants Grants, DataGrantScope Scope, IServiceWatcher Watcher) Watch()
    {
        var grants = new DataGrants(_clock);
        var scope = grants.Open("files", Server);
        return (grants, scope, new FtpHelper().Watch(scope, new TestLog(output).CreateLogger("test")));
    }

    private static void Say(IServiceWatcher watcher, params string[] chunks)
    {
        foreach (var chunk in chunks) watcher.Observe(Encoding.ASCII.GetBytes(chunk));
    }

    [Fact]
    public void Passive_and_extended_passive_replies_each_grant_one_connection_to_the_servers_own_host()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220 ready\r\n", "227 Entering Passive Mode (192,0,2,10,195,80).\r\n", "229 Entering Extended Passive Mode (|||50001|)\r\n");

        Assert.True(grants.TryTake("files", 50000, out var host));
        Assert.Equal(Server, host); // not the 192.0.2.10 the reply named
        Assert.True(grants.TryTake("files", 50001, out _));
        Assert.False(grants.TryTake("files", 50000, out _)); // one connection per announcement
    }

    [Fact]
    public void Reply_split_across_reads_is_still_seen()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220 rea", "dy\r\n229 Entering Extended Pas", "sive Mode (|||500", "01|)\r", "\n");
        Assert.True(grants.TryTake("files", 50001, out _));
    }

    [Fact]
    public void Grant_is_only_for_the_service_that_announced_it()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220 ready\r\n229 Entering Extended Passive Mode (|||50001|)\r\n");
        Assert.False(grants.TryTake("other", 50001, out _));
        Assert.False(grants.TryTake("files", 50002, out _));
    }

    [Fact]
    public void Service_that_does_not_greet_like_FTP_grants_nothing_whatever_it_says_later()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "HTTP/1.1 200 OK\r\n\r\n", "227 Entering Passive Mode (10,1,2,3,0,22)\r\n", "229 Entering Extended Passive Mode (|||50001|)\r\n");
        Assert.Equal(0, grants.Count);
    }

    [Fact]
    public void Privileged_port_is_never_granted()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220 ready\r\n227 Entering Passive Mode (10,1,2,3,0,22)\r\n229 Entering Extended Passive Mode (|||1023|)\r\n");
        Assert.Equal(0, grants.Count);
    }

    [Fact]
    public void Text_inside_a_multi_line_reply_that_looks_like_a_passive_reply_grants_nothing()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220-Welcome\r\n227 Entering Passive Mode (10,1,2,3,195,80)\r\n220 ready\r\n", "211-Status\r\n229 Entering Extended Passive Mode (|||50001|)\r\n211 End\r\n");
        Assert.Equal(0, grants.Count);
    }

    [Fact]
    public void Grant_lapses_after_the_wait_a_server_gives_its_own_passive_port()
    {
        var (grants, _, watcher) = Watch();
        Say(watcher, "220 ready\r\n229 Entering Extended Passive Mode (|||50001|)\r\n");
        _clock.Advance(HelperLimits.DataConnectionWait + TimeSpan.FromSeconds(1));
        Assert.False(grants.TryTake("files", 50001, out _));
    }

    [Fact]
    public void Closing_the_control_connection_revokes_its_grants()
    {
        var (grants, scope, watcher) = Watch();
        Say(watcher, "220 ready\r\n229 Entering Extended Passive Mode (|||50001|)\r\n");
        scope.Dispose();
        Assert.False(grants.TryTake("files", 50001, out _));
        Say(watcher, "229 Entering Extended Passive Mode (|||50002|)\r\n");
        Assert.Equal(0, grants.Count);
    }
}

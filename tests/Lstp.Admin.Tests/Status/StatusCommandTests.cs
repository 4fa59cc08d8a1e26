using System.Text.Json.Nodes;
using Lstp.Admin.Access;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Status;

/// <summary>`lstp status` as operators and scripts run it: a separate process against a running middle.</summary>
public sealed class StatusCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Status_json_prints_exactly_what_api_tunnels_serves()
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();
        await EchoTraffic.RoundTripAsync(rig.ForwardPort("echo"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://{rig.Middle.AdminAddress}") };

        // What /api/tunnels serves while the command runs (the figures move: rates tick, the ends report channels).
        var served = new List<JsonNode?>();
        using var done = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            do
            {
                served.Add(JsonNode.Parse(await http.GetStringAsync("/api/tunnels")));
                await Task.Delay(20);
            }
            while (!done.IsCancellationRequested);
        });
        await using var status = LstpProcess.Start("status", "--admin", $"http://{rig.Middle.AdminAddress}", "--json");
        var exit = await status.WaitForExitAsync();
        await done.CancelAsync();
        await watching;

        Assert.True(exit == 0, $"lstp status --json exited {exit}: {string.Join('\n', status.Lines)}");
        var printed = JsonNode.Parse(string.Join('\n', status.Lines));
        Assert.True(served.Any(s => JsonNode.DeepEquals(s, printed)), $"lstp status --json printed {printed}; /api/tunnels served meanwhile:\n{string.Join('\n', served.Select(s => s?.ToJsonString()).Distinct())}");
        var tunnel = Assert.Single(printed!.AsArray());
        Assert.Equal(["client-end", "server-end"], tunnel!["ends"]!.AsArray().Select(e => e!.GetValue<string>()).Order());
        Assert.Equal("rig-middle", tunnel["path"]![1]!["name"]!.GetValue<string>());
        Assert.True(tunnel["bytesFirstToSecond"]!.GetValue<long>() + tunnel["bytesSecondToFirst"]!.GetValue<long>() >= 2 * 256 * 1024);
    }

    [Fact]
    public async Task Status_shows_the_tunnel_its_path_and_the_cluster_as_tables()
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output), new Dictionary<string, string> { ["echo"] = echo.Address });
        await rig.OpenAsync();

        await using var status = LstpProcess.Start("status", "--admin", rig.Middle.AdminAddress!.Value.ToString());
        Assert.Equal(0, await status.WaitForExitAsync());
        var text = string.Join('\n', status.Lines);
        output.WriteLine(text);
        Assert.Contains("middle rig-middle at", text, StringComparison.Ordinal);
        Assert.Contains("Tunnels", text, StringComparison.Ordinal);
        Assert.Matches("(client-end|server-end) -> rig-middle -> (client-end|server-end)", text);
        Assert.Contains("rig-middle (this node)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_against_a_guarded_endpoint_needs_the_token_and_never_prints_it()
    {
        const string token = "status-admin-token-41c2";
        var options = new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("0.0.0.0", 0), Name = "guarded" };
        await using var middle = await MiddleHost.StartAsync(options, new TestLog(output), new AdminAccess { Token = token });
        var url = $"http://127.0.0.1:{middle.AdminAddress!.Value.Port}";

        await using (var refused = LstpProcess.Start("status", "--admin", url))
        {
            Assert.Equal(1, await refused.WaitForExitAsync());
            var line = Assert.Single(refused.Lines, l => l.Trim().Length > 0);
            Assert.StartsWith("lstp: ", line, StringComparison.Ordinal);
            Assert.Contains("needs credentials", line, StringComparison.Ordinal);
        }
        await using var allowed = LstpProcess.Start(new Dictionary<string, string> { ["LSTP__STATUS__TOKEN"] = token }, "status", "--admin", url);
        Assert.Equal(0, await allowed.WaitForExitAsync());
        Assert.Contains(allowed.Lines, l => l.Contains("middle guarded at", StringComparison.Ordinal));
        Assert.DoesNotContain(allowed.Lines, l => l.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Status_without_a_middle_says_it_cannot_reach_it()
    {
        await using var status = LstpProcess.Start("status", "--admin", $"127.0.0.1:{Net.FreePort()}");
        Assert.Equal(1, await status.WaitForExitAsync());
        Assert.Contains(status.Lines, l => l.StartsWith("lstp: cannot reach the admin endpoint", StringComparison.Ordinal));
    }
}

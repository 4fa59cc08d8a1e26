using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>The reason LSTP exists: a client in corp B reaches a server in corp A though neither network lets anything in.</summary>
[Collection(LabCollection.Name)]
public sealed class TunnelThroughFirewallTests(LabFixture lab, ITestOutputHelper output)
{
    [Fact]
    public Task Client_in_corp_B_reaches_service_in_corp_A_through_both_proxies_with_data_intact_while_direct_paths_are_blocked() =>
        LabScenario.RunAsync(lab, output, nameof(Client_in_corp_B_reaches_service_in_corp_A_through_both_proxies_with_data_intact_while_direct_paths_are_blocked), async s =>
        {
            var (m1, m2) = await s.StartMiddlesAsync();
            var echo = await s.StartEchoServiceAsync();

            // The lab: each listener answers where it stands, and nothing else reaches it.
            var checks = await Task.WhenAll(
                Check("corp A reaches its own service", "corpa", LabScenario.CorpAHost, s.ServicePort, expectConnected: true),
                Check("the internet reaches middle m1", "inet", LabScenario.Middle1, s.MiddlePort, expectConnected: true),
                Check("corp B cannot reach corp A's service directly", "corpb", LabScenario.CorpAHost, s.ServicePort, expectConnected: false),
                Check("corp B cannot reach middle m1 directly", "corpb", LabScenario.Middle1, s.MiddlePort, expectConnected: false),
                Check("corp B cannot reach middle m2 directly", "corpb", LabScenario.Middle2, s.MiddlePort, expectConnected: false),
                Check("corp A cannot reach middle m1 directly", "corpa", LabScenario.Middle1, s.MiddlePort, expectConnected: false),
                Check("the internet cannot reach corp A's service", "inet", LabScenario.CorpAHost, s.ServicePort, expectConnected: false));
            foreach (var line in checks) s.Say(line.Line);
            Assert.True(checks.All(c => c.Ok), "the lab does not isolate the corps as it should:\n" + string.Join('\n', checks.Select(c => c.Line)));

            var endA = s.StartServerEnd();
            var endB = s.StartClientEnd();
            var middleA = await s.WaitForTunnelAsync(endA, TimeSpan.FromSeconds(60));
            var middleB = await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(60));
            Assert.Equal(middleA, middleB);

            // The ends' links really go through the corporate proxies: tinyproxy and microsocks hold the connections to the middle.
            var viaTinyproxy = await Run.InAsync("proxya", TimeSpan.FromSeconds(10), "ss", "-Htnp", "state", "established", $"( dport = :{s.MiddlePort} )");
            var viaMicrosocks = await Run.InAsync("proxyb", TimeSpan.FromSeconds(10), "ss", "-Htnp", "state", "established", $"( dport = :{s.MiddlePort} )");
            s.Say($"proxy A's connections to the middle port: {viaTinyproxy.Stdout.Trim()}");
            s.Say($"proxy B's connections to the middle port: {viaMicrosocks.Stdout.Trim()}");
            Assert.Contains("tinyproxy", viaTinyproxy.Stdout);
            Assert.Contains("microsocks", viaMicrosocks.Stdout);

            const long Size = 8L * 1024 * 1024;
            var result = await s.TransferAsync(Size, TimeSpan.FromSeconds(120));
            s.Say($"8 MiB through corp B -> microsocks -> {middleB} -> tinyproxy -> corp A and back: ok={result.Ok} received={result.Received} " +
                $"in {result.Seconds:0.00} s ({result.MiBPerSecond:0.0} MiB/s each way){(result.Error is null ? "" : "; " + result.Error)}");
            Assert.True(result.Ok, $"the transfer failed: {result.Error} (received {result.Received} of {Size})");
            Assert.Equal(Size, result.Received);

            // And a second one, so a channel that closed cleanly leaves the tunnel able to carry the next.
            var again = await s.TransferAsync(1024 * 1024, TimeSpan.FromSeconds(60), "transfer-2");
            Assert.True(again.Ok, $"a second transfer failed: {again.Error}");

            Assert.False(m1.HasExited || m2.HasExited || echo.HasExited || endA.HasExited || endB.HasExited, "a lab process exited during the test");
        });

    private static async Task<(bool Ok, string Line)> Check(string what, string from, string host, int port, bool expectConnected)
    {
        var (connected, detail) = await LabScenario.DirectConnectAsync(from, host, port);
        var ok = connected == expectConnected;
        return (ok, string.Create(CultureInfo.InvariantCulture, $"{(ok ? "ok  " : "FAIL")} {what} ({from} -> {host}:{port}: {detail})"));
    }
}

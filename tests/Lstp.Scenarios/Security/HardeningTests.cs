using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Middle.Relay;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.Security;

/// <summary>Regressions from the outside review that a raw link can provoke at the middle.</summary>
public sealed class HardeningTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_tunnels_reporting_the_largest_channel_count_leave_metrics_and_status_working()
    {
        // TUNNEL_REPORT's channel count is whatever an end says: two self-paired tunnels claiming 0xFFFFFFFF each
        // used to overflow the checked sum, and /metrics and /api/status threw from then on.
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("127.0.0.1", 0), Name = "m" }, new TestLog(output));
        var links = new List<RawLink>();
        try
        {
            for (var t = 0; t < 2; t++)
            {
                var key = RandomNumberGenerator.GetBytes(ProtocolLimits.PairingKeySize);
                var first = await RawLink.ConnectAsync(middle.LinkAddress);
                var second = await RawLink.ConnectAsync(middle.LinkAddress);
                links.Add(first);
                links.Add(second);
                await first.SendAsync(RawSetup.Bytes(RawSetup.End($"liar-{t}-a", key)));
                await second.SendAsync(RawSetup.Bytes(RawSetup.End($"liar-{t}-b", key)));
                var paired = t + 1;
                await Eventually.TrueAsync(() => middle.Node.Tunnels.Snapshot().Count == paired, $"tunnel {paired} is paired");
                await first.SendAsync(new TunnelReport(uint.MaxValue, 0, 0));
            }
            const long Expected = 2L * TunnelRecord.MaxReportedChannels;
            await Eventually.TrueAsync(() => middle.Node.Tunnels.Snapshot().All(t => t.ReportedChannels == TunnelRecord.MaxReportedChannels), "both reports arrived");

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{middle.AdminAddress!.Value.Port}") };
            var metrics = new Scrape(await http.GetStringAsync("/metrics"));
            Assert.Equal(Expected, metrics.Value("lstp_channels", ("node", "m")));
            var status = JsonNode.Parse(await http.GetStringAsync("/api/status"))!;
            Assert.Equal(Expected, status["totals"]!["channels"]!.GetValue<long>());
        }
        finally
        {
            foreach (var link in links) await link.DisposeAsync();
        }
    }
}

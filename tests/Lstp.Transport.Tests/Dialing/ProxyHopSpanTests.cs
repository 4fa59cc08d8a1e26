using System.Collections.Concurrent;
using System.Diagnostics;
using Lstp.Testing;
using Lstp.Transport.Dialing;
using Lstp.Transport.Telemetry;
using Lstp.Transport.Tests.Support;
using Xunit;

namespace Lstp.Transport.Tests.Dialing;

/// <summary>Each corporate proxy on the way is a span of the tunnel's setup (docs/observability.md), named by its kind and address.</summary>
public sealed class ProxyHopSpanTests
{
    [Fact]
    public async Task A_dial_through_a_SOCKS5_proxy_is_one_proxy_hop_span_naming_the_proxy()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TelemetryNames.Source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyProcess.StartMicrosocksAsync();

        using var root = TelemetryNames.Spans.StartActivity("test.root");
        await using (var stream = await new Socks5Dialer(proxy.Address).DialAsync(echo.Target, CancellationToken.None))
        {
            await Echo.AssertRoundTripAsync(stream);
        }

        var hop = Assert.Single(spans, s => s.OperationName == TelemetryNames.ProxyHop && s.ParentSpanId == root!.SpanId);
        Assert.Equal($"socks5 {proxy.Address}", hop.GetTagItem("lstp.proxy"));
        Assert.True(hop.Duration > TimeSpan.Zero);
    }
}

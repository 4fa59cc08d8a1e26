using System.Net.Sockets;
using Lstp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Metrics;

/// <summary>
/// `--otlp URL` end to end: a real middle and two real ends (lstp processes) export to a collector the test runs; what
/// they had not yet pushed leaves when they stop (SIGTERM). The spans show each setup step and the channel's opening.
/// </summary>
public sealed class OtlpExportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_middle_and_two_ends_started_with_otlp_push_their_metrics_and_setup_spans_to_the_collector()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var echo = new EchoServer();
        var link = Net.FreePort();
        var forward = Net.FreePort();
        var admin = Net.FreePort();
        await using var middle = LstpProcess.Start("middle", "--listen", $"127.0.0.1:{link}", "--admin", "off", "--name", "otlp-middle", "--otlp", collector.Url);
        await middle.WaitForLineAsync(l => l.Contains("listening", StringComparison.Ordinal));
        await using var server = LstpProcess.Start("end", "--middle", $"127.0.0.1:{link}", "--secret", "otlp secret", "--name", "otlp-server",
            "--service", $"echo={echo.Address}", "--otlp", collector.Url);
        await using var client = LstpProcess.Start("end", "--middle", $"127.0.0.1:{link}", "--secret", "otlp secret", "--name", "otlp-client",
            "--forward", $"{forward}=echo", "--admin", $"127.0.0.1:{admin}", "--otlp", collector.Url);
        await client.WaitForLineAsync(l => l.Contains("tunnel to otlp-server open", StringComparison.Ordinal));

        using (var socket = await Net.ConnectAsync(forward))
        {
            await socket.SendAsync(new byte[] { 7, 7, 7 }, SocketFlags.None);
            Assert.Equal(new byte[] { 7, 7, 7 }, await Net.ReadExactlyAsync(socket, 3).WaitAsync(TimeSpan.FromSeconds(15)));
        }

        foreach (var process in new[] { client, server, middle }) process.Terminate();
        foreach (var process in new[] { client, server, middle }) Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        output.WriteLine($"{collector.Exports("/v1/metrics")} metric exports, {collector.Exports("/v1/traces")} trace exports");

        foreach (var name in new[] { "otlp-middle", "lstp-middle", "lstp.pairings", "lstp.links.accepted", "lstp.relayed", "process.cpu.time" })
        {
            Assert.True(collector.Received("/v1/metrics", name), $"the middle's metrics carry {name}");
        }
        foreach (var name in new[] { "otlp-client", "otlp-server", "lstp.end.sent", "lstp.end.setup.duration", "lstp.end.phase", "dotnet.gc.collections" })
        {
            Assert.True(collector.Received("/v1/metrics", name), $"the ends' metrics carry {name}");
        }
        foreach (var name in new[] { "lstp.tunnel.setup", "lstp.dial", "lstp.register", "lstp.tls", "lstp.authenticate", "lstp.channel.open", "otlp-client" })
        {
            Assert.True(collector.Received("/v1/traces", name), $"the spans include {name}");
        }
    }

    [Fact]
    public async Task An_otlp_url_that_is_not_http_is_refused_with_exit_code_2()
    {
        await using var end = LstpProcess.Start("end", "--middle", "127.0.0.1:1", "--secret", "s", "--otlp", "collector:4318");
        Assert.Equal(2, await end.WaitForExitAsync());
        Assert.Contains(end.Lines, l => l.Contains("--otlp", StringComparison.Ordinal));
    }
}

using System.Net.Sockets;
using System.Text.Json;
using Lstp.Admin.Tests.Browser;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Dashboard;

/// <summary>The dashboard in a real browser (headless Chromium over the DevTools protocol) against a live tunnel.</summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private static MiddleOptions Middle(string name) => new() { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("127.0.0.1", 0), Name = name };

    [Fact]
    public async Task The_dashboard_draws_the_tunnel_path_and_its_byte_counter_rises_live_while_traffic_flows()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Name = "corp-b" }, server: o => o with { Name = "corp-a" }, middle: Middle("relay-1"));
        await rig.OpenAsync();
        // A third end with no peer (it waits), and a link that is not LSTP at all (an error with its code).
        await using var lonely = EndProxyHost.Start(new EndOptions { Middles = [rig.Middle.LinkAddress], Secret = "no one shares this", Name = "corp-c" }, log);
        await SendGarbageAsync(rig.Middle.LinkAddress.Port);

        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.OpenAsync($"http://{rig.Middle.AdminAddress}/");
        await page.WaitForAsync("document.querySelectorAll('.tunnel').length === 1", "one tunnel is shown");
        await page.EvaluateAsync("window.__sameDocument = true");

        // Both ends and the middle, drawn in the SVG path: an end at each side, the middle between them.
        var path = await page.EvaluateAsync<string[][]>(
            "[...document.querySelectorAll('.tunnel svg .node')].map(n => [n.dataset.kind, n.querySelector('.name').textContent])");
        Assert.Equal(3, path.Length);
        Assert.Equal(["end", "middle", "end"], path.Select(p => p[0]));
        Assert.Equal("relay-1", path[1][1]);
        Assert.Equal(["corp-a", "corp-b"], new[] { path[0][1], path[2][1] }.Order());

        // The byte counter rises while echo traffic flows, pushed over /api/events: no reload.
        const string total = "Number(document.querySelector('.tunnel [data-field=\"bytes-total\"]').dataset.value)";
        var before = await page.EvaluateAsync<long>(total);
        using var stop = new CancellationTokenSource();
        var traffic = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => EchoTraffic.RunAsync(rig.ForwardPort("echo"), stop.Token)));
        await page.WaitForAsync($"{total} > {before}", "the byte counter rises");
        var rising = await page.EvaluateAsync<long>(total);
        await page.WaitForAsync($"{total} > {rising}", "the byte counter rises again");
        await page.WaitForAsync("document.querySelector('.tunnel .edge.flowing') !== null", "the path shows traffic flowing");
        await page.WaitForAsync("Number(document.querySelector('.tunnel [data-field=\"channels\"]').textContent.split(' ')[0]) >= 1", "the channels the ends report");
        Assert.True((await page.EvaluateAsync("window.__sameDocument === true")).GetBoolean(), "the page reloaded instead of updating in place");

        // Waiting ends, recent errors with their codes, and the cluster's one member with its health.
        await page.WaitForAsync("document.querySelector('#waiting-rows').textContent.includes('corp-c')", "the waiting end is listed");
        await page.WaitForAsync("document.querySelector('#error-rows [data-code=\"BadPreamble\"]') !== null", "the BadPreamble error is listed");
        var member = await page.EvaluateAsync<string>("document.querySelector('#member-rows').textContent");
        Assert.Contains("relay-1 (this node)", member, StringComparison.Ordinal);
        Assert.Contains("up", member, StringComparison.Ordinal);

        // For the README's picture, let a minute's sparkline fill in first.
        if (UpdatingDocs) await Task.Delay(TimeSpan.FromSeconds(20));
        var png = await page.ScreenshotAsync();
        await stop.CancelAsync();
        Assert.All(await traffic, echoed => Assert.True(echoed > 0));
        SaveScreenshot(png, "dashboard.png");
    }

    [Fact]
    public async Task End_names_are_shown_as_text_and_never_run_as_markup()
    {
        var log = new TestLog(output);
        await using var middle = await MiddleHost.StartAsync(Middle("m"), log);
        const string hostile = "<img src=x onerror=\"window.__ran=1\">";
        await using var end = EndProxyHost.Start(new EndOptions { Middles = [middle.LinkAddress], Secret = "s", Name = hostile }, log);
        await Eventually.TrueAsync(() => middle.Node.Registry.Snapshot().Count == 1, "the end waits");

        await using var chromium = await HeadlessChromium.LaunchAsync();
        var page = await chromium.OpenAsync($"http://{middle.AdminAddress}/");
        await page.WaitForAsync("document.querySelector('#waiting-rows').textContent.includes('<img')", "the name appears as text");
        Assert.Equal(0, await page.EvaluateAsync<int>("document.querySelectorAll('main img').length"));
        Assert.Equal(JsonValueKind.True, (await page.EvaluateAsync("window.__ran === undefined")).ValueKind);
    }

    private static bool UpdatingDocs => Environment.GetEnvironmentVariable("LSTP_UPDATE_DOCS") == "1";

    private static async Task SendGarbageAsync(int port)
    {
        using var socket = await Net.ConnectAsync(port);
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
        await Net.ReadToEndAsync(socket); // the middle answers ERROR and closes
    }

    /// <summary>Under the test output always; over docs/dashboard.png (the README's picture) when LSTP_UPDATE_DOCS=1.</summary>
    private void SaveScreenshot(byte[] png, string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, name);
        File.WriteAllBytes(file, png);
        output.WriteLine($"screenshot: {file}");
        if (UpdatingDocs)
        {
            File.Copy(file, Path.Combine(Repository.Root, "docs", name), overwrite: true);
        }
    }
}

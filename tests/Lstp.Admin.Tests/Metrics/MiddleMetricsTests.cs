using System.Net;
using System.Net.Sockets;
using Lstp.Middle;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Security;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Metrics;

/// <summary>
/// A middle's /metrics after a scripted scenario (docs/observability.md): every refusal counted under its reason, the
/// pairing in its histogram, tunnels, waiting ends, relayed bytes, published ports and their clients, node-to-node
/// links, the cluster of one, the runtime's and the process's figures; and the whole answer passes `promtool check metrics`.
/// </summary>
public sealed class MiddleMetricsTests(ITestOutputHelper output)
{
    private const string Token = "metrics-token-5c1f";

    [Fact]
    public async Task A_scripted_scenario_shows_in_every_middle_metric_with_the_values_it_implies()
    {
        var log = new TestLog(output);
        var publishPort = Net.FreePort();
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0),
            Admin = new HostPort("127.0.0.1", 0),
            Name = "metrics-middle",
            Tokens = [Token],
            PublishRange = new PortRange(publishPort, publishPort),
            MaxWaitingPerSource = 1,
            MaxConnectionsPerSecondPerSource = 5,
            SetupDeadline = TimeSpan.FromSeconds(2),
        }, log);
        using var http = new HttpClient();
        var metricsUrl = $"http://{middle.AdminAddress}/metrics";

        // Refusals of each kind, each link's ERROR tallied by its code.
        var refused = new Dictionary<ErrorCode, int>();
        var links = new List<RawLink>();
        async Task<ErrorCode> RefusedAsync(RawLink link)
        {
            await link.ReadPreambleAsync();
            var code = (await link.ExpectErrorAsync(TimeSpan.FromSeconds(15))).Code;
            lock (refused) refused[code] = refused.GetValueOrDefault(code) + 1;
            return code;
        }
        async Task<RawLink> ConnectAsync(string source)
        {
            var link = await RawLink.ConnectAsync(middle.LinkAddress, IPAddress.Parse(source));
            lock (links) links.Add(link);
            return link;
        }
        try
        {
            var intruder = await ConnectAsync("127.0.0.2");
            await intruder.SendAsync(RawSetup.Bytes(RawSetup.End("intruder"), token: "not-the-token"));
            Assert.Equal(ErrorCode.AdmissionDenied, await RefusedAsync(intruder));

            var rude = await ConnectAsync("127.0.0.2");
            await rude.SendAsync((byte[])[.. Preamble.Create(LinkRole.End), .. new Admission(Token).ToFrame(), .. new TunnelReport(1, 2, 3).ToFrame()]);
            Assert.Equal(ErrorCode.ProtocolViolation, await RefusedAsync(rude));

            var silent = await ConnectAsync("127.0.0.2");
            await silent.SendAsync(Preamble.Create(LinkRole.End));
            Assert.Equal(ErrorCode.SetupTimeout, await RefusedAsync(silent));

            var publisher = await ConnectAsync("127.0.0.2");
            await publisher.SendAsync((byte[])[.. Preamble.Create(LinkRole.End), .. new Admission(Token).ToFrame(), .. new PublishRequest("web", (ushort)(publishPort == 65535 ? 1 : publishPort + 1), new byte[PublishRequest.OwnerSize]).ToFrame()]);
            Assert.Equal(ErrorCode.PublishRefused, await RefusedAsync(publisher));

            // One end of this source may wait (--max-waiting-per-source 1): the second is refused; the first stays waiting.
            var waiting = await ConnectAsync("127.0.0.3");
            await waiting.SendAsync(RawSetup.Bytes(RawSetup.End("waits"), token: Token));
            await waiting.ReadPreambleAsync();
            Assert.IsType<Waiting>(await waiting.ReadAsync());
            var second = await ConnectAsync("127.0.0.3");
            await second.SendAsync(RawSetup.Bytes(RawSetup.End("waits-too"), token: Token));
            Assert.Equal(ErrorCode.TooManyWaiting, await RefusedAsync(second));

            // A burst from one source over its 5 new links a second: the ones over are RateLimited, the others time out.
            var burst = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => ConnectAsync("127.0.0.4")));
            var answers = await Task.WhenAll(burst.Select(RefusedAsync));
            Assert.Contains(ErrorCode.RateLimited, answers);
            Assert.All(answers, code => Assert.True(code is ErrorCode.RateLimited or ErrorCode.SetupTimeout, $"{code}"));

            var scrape = await Scrape.GetAsync(http, metricsUrl);
            foreach (var (code, count) in refused)
            {
                Assert.Equal(count, scrape.Value("lstp_links_refused_total", ("reason", code.ToString())));
            }
            Assert.Equal(refused.Values.Sum(), scrape.Sum("lstp_links_refused_total"));
            Assert.Equal(0, scrape.Sum("lstp_pairings_total"));
            Assert.Equal(1, scrape.Value("lstp_waiting_ends", ("node", "metrics-middle")));

            // A pairing, traffic through it, and a channel held open.
            await using var echo = new EchoServer();
            await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
                client: o => o with { Token = Token }, server: o => o with { Token = Token }, existingMiddle: middle);
            await rig.OpenAsync();
            using var held = await Net.ConnectAsync(rig.ForwardPort("echo"));
            var payload = new byte[64 * 1024];
            Random.Shared.NextBytes(payload);
            await held.SendAsync(payload, SocketFlags.None);
            Assert.Equal(payload, await Net.ReadExactlyAsync(held, payload.Length).WaitAsync(TimeSpan.FromSeconds(15)));
            await Eventually.TrueAsync(() => Scrape.GetAsync(http, metricsUrl).GetAwaiter().GetResult().Value("lstp_channels", ("node", "metrics-middle")) == 1,
                "the ends report their open channel (TUNNEL_REPORT)");

            // A published port and a plain client of it.
            await using var agent = EndProxy.EndProxyHost.Start(new EndProxy.EndOptions
            {
                Middles = [middle.LinkAddress],
                Secret = "agent secret",
                Name = "agent",
                Token = Token,
                Services = [new EndProxy.ServiceSpec("web", HostPort.Parse(echo.Address))],
                Publish = [new EndProxy.Publish.PublishSpec("web", (ushort)publishPort)],
            }, log);
            await Eventually.TrueAsync(() => middle.Node.Publisher.Ports.Count == 1, "the agent's port is published");
            using var plain = await Net.ConnectAsync(publishPort);
            await plain.SendAsync(new byte[] { 1, 2, 3 }, SocketFlags.None);
            Assert.Equal(new byte[] { 1, 2, 3 }, await Net.ReadExactlyAsync(plain, 3).WaitAsync(TimeSpan.FromSeconds(15)));

            scrape = await Scrape.GetAsync(http, metricsUrl);
            Assert.Equal(1, scrape.Value("lstp_pairings_total", ("path", "local")));
            Assert.Equal(1, scrape.Value("lstp_pairing_duration_seconds_count", ("path", "local")));
            Assert.InRange(scrape.Value("lstp_pairing_duration_seconds_sum", ("path", "local"))!.Value, 1e-7, 15);
            Assert.Equal(1, scrape.Value("lstp_pairing_duration_seconds_bucket", ("path", "local"), ("le", "+Inf")));
            Assert.Equal(1, scrape.Value("lstp_tunnels", ("node", "metrics-middle")));
            Assert.Equal(1, scrape.Value("lstp_waiting_ends", ("node", "metrics-middle")));
            Assert.Equal(1, scrape.Value("lstp_channels", ("node", "metrics-middle")));
            // Each way at least the payload (the TLS records around it are relayed too), and the JSON API's total is their sum.
            var firstToSecond = scrape.Value("lstp_relayed_bytes_total", ("direction", "first_to_second"))!.Value;
            var secondToFirst = scrape.Value("lstp_relayed_bytes_total", ("direction", "second_to_first"))!.Value;
            Assert.True(firstToSecond >= payload.Length && secondToFirst >= payload.Length, $"{firstToSecond} and {secondToFirst} relayed");
            // What was spliced (the rest of large frames, when it had not arrived with their headers) is part of what was relayed.
            Assert.InRange(scrape.Value("lstp_relayed_spliced_bytes_total")!.Value, 0, firstToSecond + secondToFirst);
            Assert.Equal(1, scrape.Value("lstp_published_ports"));
            Assert.Equal(1, scrape.Value("lstp_published_clients_accepted_total"));
            Assert.Equal(1, scrape.Value("lstp_published_clients"));
            // The 3 bytes each way; too few to splice.
            Assert.Equal(3, scrape.Value("lstp_published_relayed_bytes_total", ("direction", "to_client")));
            Assert.Equal(3, scrape.Value("lstp_published_relayed_bytes_total", ("direction", "from_client")));
            Assert.Equal(0, scrape.Value("lstp_published_relayed_spliced_bytes_total"));
            Assert.True(scrape.Value("lstp_links_accepted_total") >= links.Count + 4, "every raw link, both ends, the agent's control and data links");
            Assert.Equal(0, scrape.Value("lstp_node_links", ("direction", "in")));
            Assert.Equal(0, scrape.Value("lstp_node_links", ("direction", "out")));
            Assert.Equal(1, scrape.Value("lstp_cluster_members", ("status", "up")));
            Assert.Equal(0, scrape.Value("lstp_cluster_unreachable_members"));
            Assert.Equal(refused.Values.Sum(), scrape.Sum("lstp_links_refused_total"));
            RuntimeFigures.AssertPresent(scrape);
            Documented.AssertMatches(scrape, "A middle", absent: "lstp_cluster_shards"); // a lone middle has no shards (ClusterMetricsTests)
            await Promtool.AssertValidAsync(scrape.Text);

            plain.Close();
            await Eventually.TrueAsync(() => Scrape.GetAsync(http, metricsUrl).GetAwaiter().GetResult().Value("lstp_published_clients") == 0, "the plain client is gone");
        }
        finally
        {
            foreach (var link in links) await link.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_cascade_shows_its_node_to_node_links_at_both_middles_and_pairings_by_path()
    {
        var log = new TestLog(output);
        await using var hub = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("127.0.0.1", 0), Name = "hub" }, log);
        await using var edge = await MiddleHost.StartAsync(new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", 0),
            Admin = new HostPort("127.0.0.1", 0),
            Name = "edge",
            Upstream = hub.LinkAddress,
        }, log);
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address }, existingMiddle: edge);
        await rig.OpenAsync();
        using var http = new HttpClient();

        // Both ends reached the edge, which handed each on over a node link of its own; the hub paired the two node links.
        // (Ends that lose a first tunnel pair again: every pairing at the hub is two hand-ons at the edge.)
        Scrape atEdge = null!, atHub = null!;
        await Eventually.TrueAsync(() =>
        {
            atEdge = Scrape.GetAsync(http, $"http://{edge.AdminAddress}/metrics").GetAwaiter().GetResult();
            atHub = Scrape.GetAsync(http, $"http://{hub.AdminAddress}/metrics").GetAwaiter().GetResult();
            return atEdge.Value("lstp_node_links", ("direction", "out")) == 2 && atHub.Value("lstp_node_links", ("direction", "in")) == 2
                && atEdge.Value("lstp_pairings_total", ("path", "upstream")) == 2 * atHub.Value("lstp_pairings_total", ("path", "local"));
        }, "the edge holds two node links to the hub, one per end, and counted each hand-on");
        Assert.Equal(0, atEdge.Value("lstp_node_links", ("direction", "in")));
        Assert.Equal(0, atHub.Value("lstp_node_links", ("direction", "out")));
        Assert.True(atHub.Value("lstp_pairings_total", ("path", "local")) >= 1);
        Assert.Equal(atEdge.Value("lstp_pairings_total", ("path", "upstream")), atEdge.Value("lstp_pairing_duration_seconds_count", ("path", "upstream")));
        Assert.Null(atEdge.Value("lstp_pairings_total", ("path", "local")));
        Assert.Null(atHub.Value("lstp_pairings_total", ("path", "upstream")));
        await Promtool.AssertValidAsync(atEdge.Text);
        await Promtool.AssertValidAsync(atHub.Text);
    }
}

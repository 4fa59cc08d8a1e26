using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Lstp.Admin.Access;
using Lstp.Admin.End;
using Lstp.Admin.Telemetry;
using Lstp.EndProxy;
using Lstp.EndProxy.Telemetry;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Metrics;

/// <summary>
/// An end's /metrics after a scripted scenario (docs/observability.md): bytes per service, a refusal at both ends under
/// its reason, PAUSE and RESUME as one end sent and the other received them, a reconnect in its histogram, counters
/// that survive the tunnel's replacement, the setup step by step, and the answer passes `promtool check metrics`.
/// </summary>
public sealed class EndMetricsTests(ITestOutputHelper output)
{
    /// <summary>Short, so the scenario can let a resumption fail without waiting the default 30 s.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_plaintext_tunnel_counts_the_bulk_bytes_it_spliced_among_those_it_received()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        using var clientMetrics = new EndMetrics();
        using var clientTelemetry = NodeTelemetry.Start(clientMetrics.Meter, "lstp-end", "client-end", otlp: null);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address },
            client: o => o with { Plaintext = true }, server: o => o with { Plaintext = true }, clientMetrics: clientMetrics);
        await rig.OpenAsync();
        await using var clientAdmin = await EndAdmin.StartAsync(rig.Client, new HostPort("127.0.0.1", 0), AdminAccess.LoopbackOnly, clientTelemetry, log);
        using var http = new HttpClient();

        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        using (var socket = await Net.ConnectAsync(rig.ForwardPort("echo")))
        {
            var send = Task.Run(async () => { await socket.SendAsync(payload, SocketFlags.None); socket.Shutdown(SocketShutdown.Send); });
            var back = await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(payload.AsSpan().SequenceEqual(back), "the echoed bytes differ from what was sent");
            await send;
        }
        await Eventually.TrueAsync(() => Scrape.GetAsync(http, $"http://{clientAdmin.Address}/metrics").GetAwaiter().GetResult().Value("lstp_end_received_bytes_total", ("service", "echo")) == payload.Length, "the client counted the echo delivered");
        var spliced = (await Scrape.GetAsync(http, $"http://{clientAdmin.Address}/metrics")).Value("lstp_end_received_spliced_bytes_total") ?? 0;
        output.WriteLine($"spliced {spliced} of {payload.Length}");
        Assert.InRange(spliced, 1, payload.Length);
    }

    [Fact]
    public async Task A_scripted_scenario_shows_in_every_end_metric_with_the_values_it_implies()
    {
        var log = new TestLog(output);
        await using var echo = new EchoServer();
        await using var held = new HeldService();
        await using var middle = await MiddleHost.StartAsync(new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = null, Name = "m" }, log);
        await using var serverPath = new ChaosProxy(middle.LinkAddress.Port);
        // Telemetry before the ends, as `lstp end` makes it: the first setup is in the histogram.
        using var clientMetrics = new EndMetrics();
        using var serverMetrics = new EndMetrics();
        using var clientTelemetry = NodeTelemetry.Start(clientMetrics.Meter, "lstp-end", "client-end", otlp: null);
        using var serverTelemetry = NodeTelemetry.Start(serverMetrics.Meter, "lstp-end", "server-end", otlp: null);
        await using var rig = await TunnelRig.StartAsync(log, new Dictionary<string, string> { ["echo"] = echo.Address, ["held"] = held.Address },
            client: o => o with { Forwards = [.. o.Forwards, new ForwardSpec(new HostPort("127.0.0.1", 0), "nope")], ResumeGrace = Grace },
            server: o => o with { Middles = [new HostPort("127.0.0.1", serverPath.Port)], ResumeGrace = Grace },
            existingMiddle: middle, clientMetrics: clientMetrics, serverMetrics: serverMetrics);
        await rig.OpenAsync();
        await using var clientAdmin = await EndAdmin.StartAsync(rig.Client, new HostPort("127.0.0.1", 0), AdminAccess.LoopbackOnly, clientTelemetry, log);
        await using var serverAdmin = await EndAdmin.StartAsync(rig.Server, new HostPort("127.0.0.1", 0), AdminAccess.LoopbackOnly, serverTelemetry, log);
        using var http = new HttpClient();
        Scrape Client() => Scrape.GetAsync(http, $"http://{clientAdmin.Address}/metrics").GetAwaiter().GetResult();
        Scrape Server() => Scrape.GetAsync(http, $"http://{serverAdmin.Address}/metrics").GetAwaiter().GetResult();

        // 200 kB of text echoed: counted under its service at both ends, and it compresses.
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 10000).Select(i => $"line {i % 50} of the metrics test\n")))[..200_000];
        using (var socket = await Net.ConnectAsync(rig.ForwardPort("echo")))
        {
            await socket.SendAsync(text, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(text, await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(30)));
        }
        await Eventually.TrueAsync(() => Client().Value("lstp_end_received_bytes_total", ("service", "echo")) == text.Length, "the client counted the echo delivered");
        var client = Client();
        var server = Server();
        Assert.Equal(text.Length, client.Value("lstp_end_sent_bytes_total", ("service", "echo")));
        Assert.Equal(text.Length, server.Value("lstp_end_received_bytes_total", ("service", "echo")));
        Assert.Equal(text.Length, server.Value("lstp_end_sent_bytes_total", ("service", "echo")));
        Assert.True(client.Value("lstp_end_compression_ratio") > 2, $"text compresses: ratio {client.Value("lstp_end_compression_ratio")}");
        // End-to-end TLS: every byte is decrypted in the end's memory, none can be spliced.
        Assert.Equal(0, client.Value("lstp_end_received_spliced_bytes_total"));
        Assert.True(server.Value("lstp_end_compression_ratio") > 2, $"text compresses: ratio {server.Value("lstp_end_compression_ratio")}");

        // A channel to a service the server end does not offer: refused by the peer for the client, by this end for the server.
        using (var socket = await Net.ConnectAsync(rig.ForwardPort("nope")))
        {
            await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(15)).ContinueWith(_ => { });
        }
        await Eventually.TrueAsync(() => Server().Value("lstp_end_channels_refused_total", ("reason", "UnknownService"), ("refused_by", "this_end")) == 1, "the server end counts its refusal");
        Assert.Equal(1, Client().Value("lstp_end_channels_refused_total", ("reason", "UnknownService"), ("refused_by", "peer")));
        Assert.Equal(1, Client().Sum("lstp_end_channels_refused_total"));

        // An application that does not read yet: the server end pauses the client's channel, then resumes it once it reads.
        // 32 MiB is far more than the pause threshold (1 MiB) and every socket buffer on the way together.
        const long pushed = 32 * 1024 * 1024;
        using (var socket = await Net.ConnectAsync(rig.ForwardPort("held")))
        {
            var push = Task.Run(async () =>
            {
                await socket.SendAsync(new byte[pushed], SocketFlags.None);
                socket.Shutdown(SocketShutdown.Send);
            });
            await Eventually.TrueAsync(() => Server().Value("lstp_end_flow_control_total", ("frame", "pause"), ("direction", "sent")) >= 1,
                "the server end pauses the channel", TimeSpan.FromSeconds(60));
            held.Release();
            Assert.Equal(pushed, await held.ReadAll.WaitAsync(TimeSpan.FromSeconds(60)));
            await push;
        }
        await Eventually.TrueAsync(() => Server().Value("lstp_end_flow_control_total", ("frame", "resume"), ("direction", "sent")) >= 1, "the server end resumes the channel");
        await Eventually.TrueAsync(() =>
        {
            var (c, s) = (Client(), Server());
            return c.Value("lstp_end_flow_control_total", ("frame", "pause"), ("direction", "received")) == s.Value("lstp_end_flow_control_total", ("frame", "pause"), ("direction", "sent"))
                && c.Value("lstp_end_flow_control_total", ("frame", "resume"), ("direction", "received")) == s.Value("lstp_end_flow_control_total", ("frame", "resume"), ("direction", "sent"))
                && s.Value("lstp_end_received_bytes_total", ("service", "held")) == pushed;
        }, "every PAUSE and RESUME the server end sent reached the client end, and every byte the application");
        Assert.Equal(pushed, Client().Value("lstp_end_sent_bytes_total", ("service", "held")));

        // The server end's path dies and comes back within the resume grace: the tunnel resumes, no reconnect.
        await Eventually.TrueAsync(() => Client().Value("lstp_end_channels") == 0, "the channels closed");
        var first = rig.Client.Supervisor.Current;
        serverPath.Kill();
        await Eventually.TrueAsync(() => rig.Client.Supervisor.State.Phase == EndProxy.Connect.TunnelPhase.Resuming, "the client end resumes its tunnel");
        serverPath.Revive();
        await Eventually.TrueAsync(() => Client().Value("lstp_end_resumptions_total", ("outcome", "resumed")) == 1, "the resumption is counted", TimeSpan.FromSeconds(30));
        client = Client();
        Assert.Same(first, rig.Client.Supervisor.Current);
        Assert.Equal(1, client.Value("lstp_end_resumption_duration_seconds_count"));
        Assert.InRange(client.Value("lstp_end_resumption_duration_seconds_sum")!.Value, 1e-6, Grace.TotalSeconds);
        Assert.Equal(1, client.Value("lstp_end_tunnel_open"));
        Assert.Equal(0, client.Value("lstp_end_reconnect_duration_seconds_count") ?? 0);

        // It dies again and stays down past the grace: the resumption fails, and the next tunnel is a reconnect.
        serverPath.Kill();
        await Eventually.TrueAsync(() => Client().Value("lstp_end_resumptions_total", ("outcome", "failed")) == 1, "the failed resumption is counted", TimeSpan.FromSeconds(30));
        serverPath.Revive();
        await rig.OpenAsync(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => Client().Value("lstp_end_reconnect_duration_seconds_count") == 1, "the reconnect is in the histogram");
        client = Client();
        Assert.NotSame(first, rig.Client.Supervisor.Current);
        Assert.Equal(1, client.Value("lstp_end_tunnel_open"));
        Assert.Equal(1, client.Value("lstp_end_phase", ("phase", "open")));
        Assert.Equal(0, client.Value("lstp_end_phase", ("phase", "backingoff")));
        Assert.Equal(0, client.Value("lstp_end_phase", ("phase", "resuming")));
        Assert.True(client.Value("lstp_end_reconnects_total") >= 1);
        Assert.InRange(client.Value("lstp_end_reconnect_duration_seconds_sum")!.Value, 1e-6, 60);
        // Three setups completed: the first, the resumed one, the new tunnel's.
        Assert.Equal(3, client.Value("lstp_end_setup_duration_seconds_count", ("step", "total")));
        foreach (var step in new[] { "dial", "register", "tls", "authenticate" })
        {
            Assert.Equal(3, client.Value("lstp_end_setup_duration_seconds_count", ("step", step)));
        }
        // Counters over the end's life: the replaced tunnel's channels (echo and held; the refused one never opened) stay counted.
        Assert.Equal(2, client.Value("lstp_end_channels_opened_total"));
        Assert.Equal(0, client.Value("lstp_end_channels"));
        Assert.Equal(text.Length, client.Value("lstp_end_sent_bytes_total", ("service", "echo")));

        // The last setup, step by step, in /api/end.
        var view = JsonNode.Parse(await http.GetStringAsync($"http://{clientAdmin.Address}/api/end"))!;
        var setup = view["setup"]!;
        Assert.True(setup["completed"]!.GetValue<bool>());
        var steps = setup["steps"]!.AsArray().ToDictionary(s => s!["step"]!.GetValue<string>(), s => s!["ms"]!.GetValue<double>());
        Assert.Superset(new HashSet<string> { "dial", "register", "tls", "authenticate" }, steps.Keys.ToHashSet());
        Assert.True(steps.Values.Sum() <= setup["totalMs"]!.GetValue<double>(), "the steps happen one after the other within the setup");

        RuntimeFigures.AssertPresent(client);
        Documented.AssertMatches(client, "An end");
        await Promtool.AssertValidAsync(client.Text);
        await Promtool.AssertValidAsync(Server().Text);
    }

    /// <summary>A service whose application accepts one connection and reads nothing until released, then reads it all.</summary>
    private sealed class HeldService : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldService()
        {
            _listener.Start();
            ReadAll = Task.Run(async () =>
            {
                using var socket = await _listener.AcceptSocketAsync();
                await _release.Task;
                return (long)(await Net.ReadToEndAsync(socket)).Length;
            });
        }

        public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        /// <summary>What the application read, once the client closed its side.</summary>
        public Task<long> ReadAll { get; }

        public void Release() => _release.TrySetResult();

        public ValueTask DisposeAsync()
        {
            _release.TrySetResult();
            _listener.Stop();
            return ValueTask.CompletedTask;
        }
    }
}

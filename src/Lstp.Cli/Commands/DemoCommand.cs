using System.CommandLine;
using System.Diagnostics;
using Lstp.Admin;
using Lstp.Cli.Configuration;
using Lstp.Cli.Demo;
using Lstp.Cli.Options;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Commands;

/// <summary>`lstp demo`: a middle, two ends and demo services in one process on loopback, with live progress.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var duration = new Option<string>("--duration") { Description = "stop after this many seconds (default: run until Ctrl-C)" };
        var parallel = new Option<string>("--parallel") { Description = "parallel echo channels driving traffic (default 4)" };
        var plaintext = new Option<bool>("--plaintext") { Description = "run the demo tunnel without end-to-end encryption" };
        var admin = new Option<string>("--admin") { Description = "the demo middle's admin endpoint (default 127.0.0.1:7780, or any free port if taken)" };
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("demo", "Run a middle, two end proxies and demo services on loopback, drive traffic through the tunnel, and show it live.")
        {
            duration, parallel, plaintext, admin, logLevel,
        };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var seconds = parse.GetValue(duration) is { } d ? Parse.Flag("--duration", d, Parse.Seconds) : (TimeSpan?)null;
            var streams = parse.GetValue(parallel) is { } p ? Parse.Flag("--parallel", p, Parse.Count) : 4;
            using var loggers = CliLogging.Create("text", parse.GetValue(logLevel) ?? "warning");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } limit) stop.CancelAfter(limit);

            await using var services = new DemoServices();
            var adminAddress = parse.GetValue(admin) is { } a ? Parse.Flag("--admin", a, Parse.Address) : new HostPort("127.0.0.1", 7780);
            await using var middle = await StartMiddleAsync(adminAddress, loggers, cancellationToken);
            const string secret = "lstp demo secret: change me";
            var useTls = !parse.GetValue(plaintext);
            await using var server = EndProxyHost.Start(new EndOptions
            {
                Middles = [middle.LinkAddress], Secret = secret, Name = "server-end", Plaintext = !useTls,
                Services = [new ServiceSpec("echo", new HostPort("127.0.0.1", services.EchoPort)), new ServiceSpec("web", new HostPort("127.0.0.1", services.HttpPort))],
            }, loggers);
            await using var client = EndProxyHost.Start(new EndOptions
            {
                Middles = [middle.LinkAddress], Secret = secret, Name = "client-end", Plaintext = !useTls,
                Forwards = [new ForwardSpec(new HostPort("127.0.0.1", 0), "echo"), new ForwardSpec(new HostPort("127.0.0.1", 0), "web")],
            }, loggers);
            var echoPort = client.Listeners[0].Address.Port;
            var webPort = client.Listeners[1].Address.Port;

            Console.WriteLine("LSTP demo: two end proxies paired through a middle, all on loopback.");
            Console.WriteLine($"  middle      {middle.LinkAddress}   dashboard: http://{middle.AdminAddress}/   (also lstp status --admin {middle.AdminAddress}, /api/tunnels, /metrics)");
            Console.WriteLine($"  server end  offers echo=127.0.0.1:{services.EchoPort} and web=127.0.0.1:{services.HttpPort}");
            Console.WriteLine($"  client end  forwards 127.0.0.1:{echoPort} -> echo and 127.0.0.1:{webPort} -> web   (try: curl http://127.0.0.1:{webPort}/)");
            Console.WriteLine(seconds is null ? "Press Ctrl-C to stop." : $"Running for {seconds.Value.TotalSeconds:0} s.");

            var tunnel = await client.Supervisor.WaitForTunnelAsync(TimeSpan.FromSeconds(30), stop.Token);
            if (tunnel is null)
            {
                Console.Error.WriteLine($"lstp: the demo tunnel did not open: {client.Supervisor.State.LastError}");
                return 1;
            }
            Console.WriteLine($"tunnel open: {string.Join(" -> ", tunnel.Session.Pairing.Path.Select(e => e.Name))} ({(tunnel.Session.Encrypted ? "TLS 1.3 end to end, authenticated by the shared secret" : "plaintext")})");

            var driver = new TrafficDriver(echoPort, webPort, streams);
            var traffic = driver.RunAsync(stop.Token);
            var clock = Stopwatch.StartNew();
            long lastBytes = 0;
            var lastTime = TimeSpan.Zero;
            while (!stop.IsCancellationRequested)
            {
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
                var now = clock.Elapsed;
                var bytes = driver.Bytes;
                var rate = (bytes - lastBytes) / Math.Max(0.001, (now - lastTime).TotalSeconds);
                lastBytes = bytes;
                lastTime = now;
                var current = client.Supervisor.Current;
                Console.WriteLine($"[{now.TotalSeconds,5:0}s] {client.Supervisor.State.Phase,-8} channels open {current?.Counters.ChannelsOpen ?? 0,3}  opened {driver.ChannelsOpened,5}  echoed {bytes / 1048576.0,9:0.0} MiB  {rate / 1048576.0,7:0.0} MiB/s  http {driver.Requests,4} ok  errors {driver.Mismatches}");
            }
            await traffic;
            Console.WriteLine($"done: {driver.Bytes / 1048576.0:0.0} MiB echoed intact over {driver.ChannelsOpened} channels, {driver.Requests} HTTP requests, {driver.Mismatches} mismatches");
            if (driver.LastWebReply is { } reply) Console.WriteLine($"last reply from the web service: {reply}");
            return driver.Mismatches == 0 && driver.Bytes > 0 ? 0 : 1;
        }));
        return command;
    }

    private static async Task<MiddleHost> StartMiddleAsync(HostPort admin, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var options = new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = admin, Name = "demo-middle" };
        try
        {
            return await MiddleHost.StartAsync(options, loggers, cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // 7780 is taken (another middle?): any free port will do for a demo.
            return await MiddleHost.StartAsync(options with { Admin = new HostPort("127.0.0.1", 0) }, loggers, cancellationToken);
        }
    }
}

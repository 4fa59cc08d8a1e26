using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using Lstp.Cli.Configuration;
using Lstp.Cli.Options;
using Lstp.EndProxy;
using Lstp.Tunnel.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lstp.Cli.Commands;

/// <summary>
/// `lstp loadgen` (hidden): load generators for the benchmarks in bench/. `loadgen idle` opens N paired, idle
/// tunnels against one middle from a single process, so bench/run.sh can measure the middle's memory per tunnel;
/// `loadgen opens` and `loadgen echo` measure the channel-open rate (bench/opens, <see cref="LoadgenOpens"/>).
/// </summary>
public static class LoadgenCommand
{
    public static Command Create()
    {
        var command = new Command("loadgen", "Load generators for benchmarks (bench/run.sh).") { Hidden = true };
        command.Subcommands.Add(Idle());
        command.Subcommands.Add(LoadgenOpens.Opens());
        command.Subcommands.Add(LoadgenOpens.Echo());
        return command;
    }

    private static Command Idle()
    {
        var middle = new Option<string>("--middle") { Description = "the middle to load, HOST:PORT", Required = true };
        var tunnels = new Option<int>("--tunnels") { Description = "paired tunnels to open", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "pairs opened at a time", DefaultValueFactory = _ => 50 };
        var pauseAt = new Option<int>("--pause-at") { Description = "after this many pairs print 'ready K' and wait for a line on stdin before going on (0: never)" };
        var plaintext = new Option<bool>("--plaintext") { Description = "no end-to-end encryption (the middle sees the same either way)" };
        var timeout = new Option<int>("--timeout") { Description = "seconds one batch may take to pair", DefaultValueFactory = _ => 120 };

        var command = new Command("idle", "Open N pairs of ends (distinct random secrets) against a middle, print 'ready N' when all are paired, then hold them until killed.")
        {
            middle, tunnels, batch, pauseAt, plaintext, timeout,
        };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var target = Parse.Flag("--middle", parse.GetValue(middle) ?? "", Parse.Address);
            var count = parse.GetValue(tunnels);
            var perBatch = parse.GetValue(batch);
            var pause = parse.GetValue(pauseAt);
            var batchTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout));
            if (count < 1) throw new UsageException("--tunnels: must be at least 1");
            if (perBatch < 1) throw new UsageException("--batch: must be at least 1");
            if (pause < 0 || pause > count) throw new UsageException("--pause-at: must be between 0 and --tunnels");

            var loggers = NullLoggerFactory.Instance;
            // One actor system for every end of this process: an actor system each would cost 2N scheduler threads.
            var actors = Lstp.Tunnel.Actors.LstpActorSystem.Create("lstp-loadgen", loggers);
            var hosts = new List<EndProxyHost>(2 * count);
            var clock = Stopwatch.StartNew();
            try
            {
                var opened = 0;
                while (opened < count)
                {
                    var size = Math.Min(perBatch, count - opened);
                    if (pause > opened && pause < opened + size) size = pause - opened; // stop exactly at the pause point
                    var waits = new List<Task<bool>>(2 * size);
                    for (var i = opened; i < opened + size; i++)
                    {
                        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
                        foreach (var side in new[] { "a", "b" })
                        {
                            var options = new EndOptions
                            {
                                Middles = [target],
                                Name = $"loadgen-{Environment.ProcessId}-{i}-{side}",
                                Plaintext = parse.GetValue(plaintext),
                            };
                            var host = EndProxyHost.Start(options, loggers, dialer: null, secret, actors);
                            hosts.Add(host);
                            waits.Add(Paired(host, batchTimeout, cancellationToken));
                        }
                    }
                    var results = await Task.WhenAll(waits);
                    var failed = results.Count(ok => !ok);
                    if (failed > 0)
                    {
                        Console.Error.WriteLine($"lstp loadgen: {failed} end(s) of pairs {opened}..{opened + size - 1} did not pair within {batchTimeout.TotalSeconds:0}s");
                        return 1;
                    }
                    opened += size;
                    Console.Error.WriteLine($"loadgen: {opened}/{count} pairs open ({clock.Elapsed.TotalSeconds:0.0}s)");
                    if (opened == pause && pause < count)
                    {
                        Console.Out.WriteLine($"ready {opened}");
                        Console.Out.Flush();
                        await Task.Run(Console.In.ReadLine, cancellationToken);
                    }
                }

                var down = hosts.Count(h => h.Supervisor.Current is not { } t || t.Completion.IsCompleted);
                if (down > 0)
                {
                    Console.Error.WriteLine($"lstp loadgen: {down} end(s) lost their tunnel before all were open");
                    return 1;
                }
                Console.Out.WriteLine($"ready {count}");
                Console.Out.Flush();
                try { await Task.Delay(Timeout.Infinite, cancellationToken); } catch (OperationCanceledException) { }
                return 0;
            }
            finally
            {
                // Close quickly: the middle only has to see the links go; don't let 2N shutdowns hold the exit.
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await Task.WhenAll(hosts.Select(h => h.DisposeAsync().AsTask())).WaitAsync(limit.Token); }
                catch (Exception) { /* best effort on the way out */ }
                await actors.Terminate().WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }));
        return command;
    }

    private static async Task<bool> Paired(EndProxyHost host, TimeSpan timeout, CancellationToken cancellationToken) =>
        await host.Supervisor.WaitForTunnelAsync(timeout, cancellationToken) is not null;
}

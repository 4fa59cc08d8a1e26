using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lstp.Cli.Configuration;
using Lstp.Cli.Options;

namespace Lstp.Cli.Commands;

/// <summary>
/// `lstp loadgen opens` and `lstp loadgen echo`: the channel-open rate of bench/opens. Short connections (connect,
/// send a few bytes, read them back, close) from many concurrent clients, each a loop in this process: Python
/// clients top out near 4,000 connections per second on the project's machine, far below what a tunnel or a
/// direct connection can take, so they measured the load generator. `echo` is the service they talk to.
/// </summary>
internal static class LoadgenOpens
{
    public static Command Opens()
    {
        var target = new Option<string>("--target") { Description = "where to connect, HOST:PORT (an echo service, directly or through a forward)", Required = true };
        var clients = new Option<int>("--clients") { Description = "connections in flight at once, one loop each", DefaultValueFactory = _ => 16 };
        var seconds = new Option<double>("--seconds") { Description = "how long to run", DefaultValueFactory = _ => 5 };
        var size = new Option<int>("--size") { Description = "bytes sent and read back per connection", DefaultValueFactory = _ => 1024 };
        var command = new Command("opens", "Open short connections (connect, SIZE bytes echoed, close) from CLIENTS loops for SECONDS; print 'opens N per_second R failed F'.")
        {
            target, clients, seconds, size,
        };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var address = Parse.Flag("--target", parse.GetValue(target) ?? "", Parse.Address);
            var loops = parse.GetValue(clients);
            var length = parse.GetValue(size);
            var duration = TimeSpan.FromSeconds(parse.GetValue(seconds));
            if (loops < 1) throw new UsageException("--clients: must be at least 1");
            if (length < 1) throw new UsageException("--size: must be at least 1");
            if (duration <= TimeSpan.Zero) throw new UsageException("--seconds: must be more than 0");
            var endPoint = new IPEndPoint(IPAddress.Parse(address.Host), address.Port);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(duration);
            var clock = Stopwatch.StartNew();
            var results = await Task.WhenAll(Enumerable.Range(0, loops).Select(_ => Task.Run(() => ClientAsync(endPoint, length, stop.Token))));
            var elapsed = clock.Elapsed.TotalSeconds;
            var done = results.Sum(r => r.Done);
            var failed = results.Sum(r => r.Failed);
            Console.Out.WriteLine($"opens {done} per_second {done / elapsed:0} failed {failed} seconds {elapsed:0.00}");
            if (results.FirstOrDefault(r => r.FirstError is not null).FirstError is { } error) Console.Error.WriteLine($"loadgen opens: first failure: {error}");
            return failed == 0 ? 0 : 1;
        }));
        return command;
    }

    public static Command Echo()
    {
        var listen = new Option<string>("--listen") { Description = "where to listen, HOST:PORT", Required = true };
        var command = new Command("echo", "Echo every connection's bytes back until it closes (the service of 'loadgen opens').") { listen };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(async () =>
        {
            var address = Parse.Flag("--listen", parse.GetValue(listen) ?? "", Parse.Address);
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Parse(address.Host), address.Port));
            listener.Listen(4096);
            Console.Out.WriteLine($"echo listening on {listener.LocalEndPoint}");
            Console.Out.Flush();
            while (!cancellationToken.IsCancellationRequested)
            {
                Socket accepted;
                try { accepted = await listener.AcceptAsync(cancellationToken); }
                catch (OperationCanceledException) { break; }
                _ = EchoAsync(accepted);
            }
            return 0;
        }));
        return command;
    }

    private readonly record struct Outcome(long Done, long Failed, string? FirstError);

    private static async Task<Outcome> ClientAsync(IPEndPoint target, int length, CancellationToken stop)
    {
        var payload = new byte[length];
        Random.Shared.NextBytes(payload);
        var back = new byte[length];
        long done = 0, failed = 0;
        string? firstError = null;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(target, CancellationToken.None);
                await socket.SendAsync(payload, SocketFlags.None);
                var got = 0;
                while (got < length)
                {
                    var n = await socket.ReceiveAsync(back.AsMemory(got), SocketFlags.None);
                    if (n == 0) throw new EndOfStreamException($"closed after {got} of {length} bytes");
                    got += n;
                }
                if (!back.AsSpan().SequenceEqual(payload)) throw new InvalidDataException("the echo differs from what was sent");
                socket.Shutdown(SocketShutdown.Send);
                done++;
            }
            catch (Exception ex) when (ex is SocketException or EndOfStreamException or InvalidDataException or IOException)
            {
                failed++;
                firstError ??= ex.Message;
            }
        }
        return new Outcome(done, failed, firstError);
    }

    private static async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0) break;
                await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The client went away: nothing to echo to.
        }
        finally
        {
            socket.Dispose();
        }
    }
}

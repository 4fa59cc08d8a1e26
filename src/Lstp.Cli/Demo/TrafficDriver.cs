using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Lstp.Cli.Demo;

/// <summary>
/// Drives the demo's traffic: a few parallel echo channels that send random data and check every byte that
/// comes back, and a periodic HTTP request through the web forward.
/// </summary>
public sealed class TrafficDriver(int echoPort, int webPort, int parallel)
{
    private long _bytes;
    private long _channels;
    private long _requests;
    private long _mismatches;

    public long Bytes => Interlocked.Read(ref _bytes);
    public long ChannelsOpened => Interlocked.Read(ref _channels);
    public long Requests => Interlocked.Read(ref _requests);
    public long Mismatches => Interlocked.Read(ref _mismatches);
    public string? LastWebReply { get; private set; }

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => EchoLoopAsync(cancellationToken)).Append(WebLoopAsync(cancellationToken)));

    private async Task EchoLoopAsync(CancellationToken cancellationToken)
    {
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        var back = new byte[payload.Length];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, echoPort), cancellationToken);
                Interlocked.Increment(ref _channels);
                // Each channel carries 32 round trips of 256 KiB, then closes and a new one opens.
                for (var i = 0; i < 32 && !cancellationToken.IsCancellationRequested; i++)
                {
                    var send = socket.SendAsync(payload, SocketFlags.None, cancellationToken).AsTask();
                    var got = 0;
                    while (got < back.Length)
                    {
                        var n = await socket.ReceiveAsync(back.AsMemory(got), SocketFlags.None, cancellationToken);
                        if (n == 0) throw new EndOfStreamException();
                        got += n;
                    }
                    await send;
                    if (!back.AsSpan().SequenceEqual(payload)) Interlocked.Increment(ref _mismatches);
                    Interlocked.Add(ref _bytes, 2L * payload.Length);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                // The tunnel may be reconnecting; try again shortly.
                try { await Task.Delay(500, cancellationToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task WebLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, webPort), cancellationToken);
                await socket.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"), SocketFlags.None, cancellationToken);
                var reply = new MemoryStream();
                var buffer = new byte[4096];
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0) reply.Write(buffer, 0, n);
                var text = Encoding.UTF8.GetString(reply.ToArray());
                LastWebReply = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..].Trim();
                Interlocked.Increment(ref _requests);
                await Task.Delay(1000, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                try { await Task.Delay(500, cancellationToken); } catch (OperationCanceledException) { return; }
            }
        }
    }
}

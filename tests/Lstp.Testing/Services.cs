using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Lstp.Testing;

/// <summary>
/// Small TCP services for scenarios, each on its own loopback port: one that answers only after the client
/// half-closes (the SHA-256 of everything it received), and one that accepts and never reads (a slow reader).
/// </summary>
public sealed class TestService : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Func<Socket, CancellationToken, Task> _serve;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _clients = [];
    private readonly Task _loop;

    private TestService(Func<Socket, CancellationToken, Task> serve)
    {
        _serve = serve;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(256);
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Reads to end of stream, then replies with the SHA-256 of what it read and closes.</summary>
    public static TestService HashAfterEof() => new(async (client, ct) =>
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0) sha.AppendData(buffer, 0, n);
        await client.SendAsync(sha.GetHashAndReset(), SocketFlags.None, ct);
        client.Shutdown(SocketShutdown.Send);
    });

    /// <summary>Accepts and never reads: its socket buffers fill and stay full.</summary>
    public static TestService NeverReads() => new(async (_, ct) => await Task.Delay(Timeout.Infinite, ct));

    /// <summary>Sends <paramref name="bytes"/> random bytes and closes; the bytes' hash is what a client should see.</summary>
    public static TestService Source(byte[] bytes) => new(async (client, ct) =>
    {
        await client.SendAsync(bytes, SocketFlags.None, ct);
        client.Shutdown(SocketShutdown.Send);
        var scratch = new byte[1024];
        while (await client.ReceiveAsync(scratch, SocketFlags.None, ct) > 0) { }
    });

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            lock (_clients) _clients.Add(client);
            _ = Task.Run(async () =>
            {
                try { await _serve(client, _stop.Token); }
                catch (Exception) { }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_clients) foreach (var c in _clients) c.Dispose();
        await _loop;
    }
}

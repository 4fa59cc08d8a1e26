using System.Net;
using System.Net.Sockets;

namespace Lstp.Testing;

/// <summary>
/// A TCP echo server on loopback. It echoes until the client half-closes, then half-closes too, so tests can
/// check that a half-close crosses the tunnel as a half-close. Optional slow reading for flow-control tests.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _accepted;

    public EchoServer()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1024);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }
    public string Address => $"127.0.0.1:{Port}";
    public Lstp.Transport.HostPort Target => new("127.0.0.1", Port);
    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => EchoAsync(client));
        }
    }

    private async Task EchoAsync(Socket client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) break;
                await client.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
            client.Shutdown(SocketShutdown.Send);
            // Wait for the other side to close before releasing the socket.
            await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
        }
        catch (Exception)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _loop;
    }
}

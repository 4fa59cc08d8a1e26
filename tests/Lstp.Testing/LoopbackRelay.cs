using System.Net;
using System.Net.Sockets;

namespace Lstp.Testing;

/// <summary>
/// A TCP relay on loopback that a test puts between an end and its middle: it accepts, dials the target and
/// pumps both directions, passing a FIN on as a FIN and a failure on as a reset. Subclasses decide what else
/// happens to the bytes on the way (<see cref="ChaosProxy"/> stops them, <see cref="Security.RecordingRelay"/>
/// records them).
/// </summary>
public abstract class LoopbackRelay : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly int _targetPort;
    private readonly List<Socket> _sockets = [];
    private readonly Task _loop;

    protected LoopbackRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(256);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    /// <summary>Connections relayed so far.</summary>
    public int Connections { get; private set; }

    /// <summary>Cancelled when the relay is disposed.</summary>
    protected CancellationTokenSource Stop { get; } = new();

    /// <summary>True to reset a new connection instead of relaying it.</summary>
    protected virtual bool Refusing => false;

    /// <summary>Called once per relayed connection; what it returns is handed to <see cref="Forwarding"/>.</summary>
    protected virtual object? Connected() => null;

    /// <summary>Awaited before each read and each write: a subclass holds the bytes here.</summary>
    protected virtual Task WaitToMoveAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Bytes about to be forwarded, from the client (the end) or from the server (the middle).</summary>
    protected virtual void Forwarding(object? connection, bool fromClient, ReadOnlySpan<byte> bytes)
    {
    }

    /// <summary>Resets every relayed connection (RST on both sides).</summary>
    protected void ResetAll()
    {
        lock (_sockets)
        {
            foreach (var socket in _sockets) Reset(socket);
            _sockets.Clear();
        }
    }

    private static void Reset(Socket socket)
    {
        try { socket.LingerState = new LingerOption(true, 0); socket.Close(); } catch (Exception) { }
    }

    private async Task AcceptAsync()
    {
        while (!Stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(Stop.Token); }
            catch (Exception) { return; }
            if (Refusing)
            {
                Reset(client);
                continue;
            }
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), Stop.Token);
            }
            catch (Exception)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }
            client.NoDelay = true;
            var connection = Connected();
            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(upstream);
            }
            Connections++;
            _ = PumpAsync(client, upstream, connection, fromClient: true);
            _ = PumpAsync(upstream, client, connection, fromClient: false);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, object? connection, bool fromClient)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await WaitToMoveAsync(Stop.Token);
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, Stop.Token);
                await WaitToMoveAsync(Stop.Token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                Forwarding(connection, fromClient, buffer.AsSpan(0, n));
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, Stop.Token);
            }
        }
        catch (Exception)
        {
            Reset(to);
            try { from.Close(); } catch (Exception) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop.Cancel();
        _listener.Dispose();
        ResetAll();
        await _loop;
        GC.SuppressFinalize(this);
    }
}

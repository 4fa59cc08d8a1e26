using System.Net;
using System.Net.Sockets;

namespace Lstp.Testing;

/// <summary>
/// A TCP relay on loopback that a test puts between an end and its middle to break the path on purpose:
/// <see cref="Freeze"/> stops forwarding without closing anything (a blackhole: no FIN, no RST), and
/// <see cref="Kill"/> resets every connection and refuses new ones until <see cref="Revive"/>.
/// </summary>
public sealed class ChaosProxy : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _loop;
    private volatile TaskCompletionSource _thaw = Thawed();
    private volatile bool _dead;

    public ChaosProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(256);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }
    public int Connections { get; private set; }

    /// <summary>Stop moving bytes, keep every socket open.</summary>
    public void Freeze() => _thaw = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _thaw.TrySetResult();

    /// <summary>Reset every connection and refuse new ones.</summary>
    public void Kill()
    {
        _dead = true;
        lock (_sockets)
        {
            foreach (var s in _sockets)
            {
                try { s.LingerState = new LingerOption(true, 0); s.Close(); } catch (Exception) { }
            }
            _sockets.Clear();
        }
    }

    public void Revive()
    {
        _dead = false;
        Thaw();
    }

    private static TaskCompletionSource Thawed()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            if (_dead)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Close();
                continue;
            }
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
            }
            catch (Exception)
            {
                client.Close();
                upstream.Dispose();
                continue;
            }
            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(upstream);
            }
            Connections++;
            _ = PumpAsync(client, upstream);
            _ = PumpAsync(upstream, client);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await _thaw.Task.WaitAsync(_stop.Token);
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                await _thaw.Task.WaitAsync(_stop.Token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception)
        {
            try { to.LingerState = new LingerOption(true, 0); to.Close(); } catch (Exception) { }
            try { from.Close(); } catch (Exception) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        Kill();
        await _loop;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Lstp.Transport.Tests.Support;

/// <summary>A loopback listener that plays a scripted proxy on each connection: for answers no real proxy gives on demand
/// (garbage, early close, reply codes, tunnel bytes in the same segment as the reply).</summary>
public sealed class ScriptedProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<NetworkStream, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _sessions = [];

    public ScriptedProxy(Func<NetworkStream, Task> script)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public HostPort Address => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

    /// <summary>How many connections the proxy has seen finish (closed by the script or by the dialer).</summary>
    public int Closed { get { lock (_sessions) return _sessions.Count(s => s.IsCompleted); } }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            lock (_sessions) _sessions.Add(RunAsync(client));
        }
    }

    private async Task RunAsync(Socket client)
    {
        await using var stream = new NetworkStream(client, ownsSocket: true);
        try { await _script(stream); }
        catch (IOException) { } // the dialer gave up first, which is what some tests want
    }

    /// <summary>Reads until the peer closes, so a test can see that the dialer disposed its socket.</summary>
    public static async Task DrainAsync(Stream stream)
    {
        var buffer = new byte[256];
        while (await stream.ReadAsync(buffer) > 0) { }
    }

    /// <summary>Reads an HTTP request head (through the blank line).</summary>
    public static async Task<string> ReadHttpHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) throw new EndOfStreamException("client closed mid-request");
            head.Add(one[0]);
        }
        return System.Text.Encoding.ASCII.GetString([.. head]);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        Task[] sessions;
        lock (_sessions) sessions = [.. _sessions];
        await Task.WhenAll(sessions).WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

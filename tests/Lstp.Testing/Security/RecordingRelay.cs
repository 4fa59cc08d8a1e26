using System.Net;
using System.Net.Sockets;

namespace Lstp.Testing.Security;

/// <summary>
/// A TCP relay on loopback that records every byte it forwards, per connection and per direction: the
/// capture a network attacker (or the middle's operator with tcpdump) would have. A test puts it between an
/// end and its middle, then searches <see cref="Captured"/> or replays <see cref="RecordedLink.FromClient"/>.
/// Closing is passed on as closing: a FIN becomes a FIN, a reset becomes a reset.
/// </summary>
public sealed class RecordingRelay : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<RecordedLink> _links = [];
    private readonly List<Socket> _sockets = [];
    private readonly Task _loop;

    public RecordingRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(256);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    /// <summary>Every connection relayed so far, in the order they were accepted.</summary>
    public IReadOnlyList<RecordedLink> Links
    {
        get { lock (_links) return [.. _links]; }
    }

    /// <summary>Every byte of every connection, both directions.</summary>
    public IEnumerable<byte[]> Captured => Links.SelectMany(l => new[] { l.FromClient, l.FromServer });

    /// <summary>Total bytes recorded, both directions of every connection.</summary>
    public long TotalBytes => Links.Sum(l => (long)l.FromClient.Length + l.FromServer.Length);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
            }
            catch (Exception)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }
            client.NoDelay = true;
            var link = new RecordedLink();
            lock (_links) _links.Add(link);
            lock (_sockets) { _sockets.Add(client); _sockets.Add(upstream); }
            _ = PumpAsync(client, upstream, link.ClientSide, link);
            _ = PumpAsync(upstream, client, link.ServerSide, link);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, MemoryStream record, RecordedLink link)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                lock (link) record.Write(buffer, 0, n);
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
        lock (_sockets)
        {
            foreach (var s in _sockets)
            {
                try { s.Dispose(); } catch (Exception) { }
            }
        }
        await _loop;
    }
}

/// <summary>One relayed connection's bytes: what the client (the end) sent and what the server (the middle) sent.</summary>
public sealed class RecordedLink
{
    internal MemoryStream ClientSide { get; } = new();
    internal MemoryStream ServerSide { get; } = new();

    public byte[] FromClient
    {
        get { lock (this) return ClientSide.ToArray(); }
    }

    public byte[] FromServer
    {
        get { lock (this) return ServerSide.ToArray(); }
    }
}

/// <summary>Searching captures for bytes that must (or must not) be there.</summary>
public static class Capture
{
    /// <summary>True when <paramref name="needle"/> occurs anywhere in any of <paramref name="captures"/>.</summary>
    public static bool Contains(IEnumerable<byte[]> captures, ReadOnlySpan<byte> needle)
    {
        foreach (var capture in captures)
        {
            if (capture.AsSpan().IndexOf(needle) >= 0) return true;
        }
        return false;
    }
}

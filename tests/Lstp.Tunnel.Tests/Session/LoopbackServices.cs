using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Session;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>
/// The services an end under test offers, each a real loopback listener: dialling one connects to it for real, and
/// the test accepts the target's side. A service offered as closed names a port where nothing listens. Failures are
/// sorted into the codes SERVICE_BEGIN_NACK carries as the end's own catalogue sorts them
/// (src/Lstp.EndProxy/Services/ServiceCatalog.cs): UnknownService, TargetRefused; destinations are NotAllowed.
/// </summary>
public sealed class LoopbackServices : ITargetDialer, IDisposable
{
    private readonly ConcurrentDictionary<string, Socket> _listeners = new(StringComparer.Ordinal);
    private int _dials;

    /// <summary>How many SERVICE_BEGIN_REQUESTs the end asked this dialer about.</summary>
    public int Dials => Volatile.Read(ref _dials);

    /// <summary>Offers <paramref name="name"/>: a listener the test accepts its connections from.</summary>
    public void Offer(string name) => _listeners[name] = Bound(listen: true);

    /// <summary>Offers <paramref name="name"/> at a port bound but not listening: the kernel refuses the connection.</summary>
    public void OfferClosed(string name) => _listeners[name] = Bound(listen: false);

    /// <summary>The target's side of the next connection the end made to <paramref name="name"/>.</summary>
    public Task<Socket> AcceptAsync(string name) => _listeners[name].AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));

    public async ValueTask<TargetDial> DialAsync(ServiceBeginRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _dials);
        if (request.Kind == TargetKind.Destination) return TargetDial.Refused(ErrorCode.NotAllowed, $"this end allows no destinations ({request.Describe()})");
        if (!_listeners.TryGetValue(request.Target, out var listener)) return TargetDial.Refused(ErrorCode.UnknownService, $"this end offers no service '{request.Target}'");
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(listener.LocalEndPoint!, cancellationToken);
            return TargetDial.Connected(socket);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            socket.Dispose();
            return TargetDial.Refused(ErrorCode.TargetRefused, $"service '{request.Target}' at {listener.LocalEndPoint} refused the connection");
        }
    }

    private static Socket Bound(bool listen)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        if (listen) socket.Listen(16);
        return socket;
    }

    public void Dispose()
    {
        foreach (var listener in _listeners.Values) listener.Dispose();
    }
}

using System.Net.Sockets;

namespace Lstp.Tunnel.Channels;

/// <summary>How a channel lets go of its application's socket.</summary>
public static class ChannelSockets
{
    /// <summary>
    /// Closes with a reset (RST) rather than a FIN: an application must not mistake a connection that broke, or was
    /// never served, for one that ended cleanly.
    /// </summary>
    public static void Reset(Socket socket)
    {
        try { socket.LingerState = new LingerOption(true, 0); } catch (SocketException) { } catch (ObjectDisposedException) { }
        try { socket.Dispose(); } catch (ObjectDisposedException) { }
    }
}

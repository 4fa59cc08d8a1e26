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
        ResetOnClose(socket);
        try { socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    /// <summary>Makes the socket's coming close a reset (linger on, timeout 0), for whoever closes it later.</summary>
    public static void ResetOnClose(Socket socket)
    {
        try { socket.LingerState = new LingerOption(true, 0); } catch (SocketException) { } catch (ObjectDisposedException) { }
    }
}

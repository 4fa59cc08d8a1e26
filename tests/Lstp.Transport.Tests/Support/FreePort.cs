using System.Net;
using System.Net.Sockets;

namespace Lstp.Transport.Tests.Support;

/// <summary>Loopback ports for tests: one to start a proxy on, and one where nothing listens.</summary>
public static class FreePort
{
    /// <summary>A port the kernel just handed out and took back; free unless something grabs it in between (callers retry).</summary>
    public static int Next()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }
}

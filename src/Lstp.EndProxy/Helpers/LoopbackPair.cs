using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// Two connected TCP sockets on 127.0.0.1, the portable stand-in for socketpair(2), which .NET does not offer:
/// a channel owns one side and a helper reads and writes the other. Used for control connections only, so
/// the extra local hop never carries bulk data.
/// </summary>
public static class LoopbackPair
{
    public static async Task<(Socket First, Socket Second)> CreateAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await first.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var second = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                // Another local process may race to the port: keep only our own connection.
                if (Equals(second.RemoteEndPoint, first.LocalEndPoint))
                {
                    second.NoDelay = true;
                    return (first, second);
                }
                second.Dispose();
            }
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }
}

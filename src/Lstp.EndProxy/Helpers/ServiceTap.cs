using System.Net.Sockets;
using Lstp.Tunnel.Channels;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// Carries one control connection at the service's end between the channel and the service, showing the
/// helper's watcher each chunk the service sends before passing it on (so a grant exists before the peer can
/// act on the announcement). Bytes are never changed. A half-close passes on as a half-close, a failure as a
/// reset; when both directions are done the grants of the connection are revoked.
/// </summary>
internal static class ServiceTap
{
    /// <summary>Starts the tap and returns the socket the channel should own.</summary>
    public static async Task<Socket> StartAsync(Socket service, IServiceWatcher watcher, IDisposable grants, CancellationToken cancellationToken)
    {
        var (channelSide, tapSide) = await LoopbackPair.CreateAsync(cancellationToken).ConfigureAwait(false);
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.WhenAll(CopyAsync(tapSide, service, null, tapSide, service), CopyAsync(service, tapSide, watcher, tapSide, service)).ConfigureAwait(false);
            }
            finally
            {
                grants.Dispose();
                tapSide.Dispose();
                service.Dispose();
            }
        }, CancellationToken.None);
        return channelSide;
    }

    private static async Task CopyAsync(Socket from, Socket to, IServiceWatcher? watcher, Socket a, Socket b)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await from.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false)) > 0)
            {
                watcher?.Observe(buffer.AsSpan(0, n));
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // One side failed: reset both, so neither application mistakes it for a clean end.
            ChannelSockets.Reset(a);
            ChannelSockets.Reset(b);
        }
    }

}

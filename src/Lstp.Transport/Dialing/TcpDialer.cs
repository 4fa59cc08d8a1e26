using System.Net.Sockets;

namespace Lstp.Transport.Dialing;

/// <summary>Connects straight to the target over TCP, with Nagle off (LSTP frames are written whole).</summary>
public sealed class TcpDialer : IDialer
{
    public static readonly TcpDialer Instance = new();

    public async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(target, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Connects a socket (IPv4 or IPv6, whichever the name resolves to first).</summary>
    public static async ValueTask<Socket> ConnectSocketAsync(HostPort target, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target.Host, target.Port, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new DialException(DialFailure.Unreachable, $"cannot connect to {target}: {ex.SocketErrorCode} ({ex.Message})", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

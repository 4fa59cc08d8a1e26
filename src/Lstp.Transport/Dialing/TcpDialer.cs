using System.Net.Sockets;

namespace Lstp.Transport.Dialing;

/// <summary>Connects straight to the target over TCP, with Nagle off (LSTP frames are written whole).</summary>
public sealed class TcpDialer : IDialer
{
    public static readonly TcpDialer Instance = new();

    private readonly TimeSpan _connectTimeout;
    private readonly TimeProvider _time;

    public TcpDialer() : this(DialTimeout.Default) { }

    public TcpDialer(TimeSpan connectTimeout, TimeProvider? timeProvider = null)
    {
        _connectTimeout = DialTimeout.Validate(connectTimeout);
        _time = timeProvider ?? TimeProvider.System;
    }

    public ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken) =>
        DialTimeout.RunAsync($"connecting to {target}", _connectTimeout, _time, async token =>
        {
            var socket = await ConnectSocketAsync(target, token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }, cancellationToken);

    /// <summary>Connects a socket (IPv4 or IPv6, whichever the name resolves to first). No deadline of its own.</summary>
    public static async ValueTask<Socket> ConnectSocketAsync(HostPort target, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target.Host, target.Port, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException) when (cancellationToken.IsCancellationRequested)
        {
            // A connect cut short by our token can surface as OperationAborted: it is a cancellation, not an unreachable host.
            socket.Dispose();
            throw new OperationCanceledException(cancellationToken);
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

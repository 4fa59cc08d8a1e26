using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// A passive data port the relay offers its FTP client in place of the server's: it accepts one connection,
/// from the client's own address only (as FTP servers check, RFC 2577 §3), within
/// <see cref="HelperLimits.DataConnectionWait"/>, and hands it to <c>onAccepted</c> (which opens the data channel).
/// </summary>
internal sealed partial class FtpPassiveListener : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();

    public FtpPassiveListener(IPAddress bindTo, IPAddress client, Action<Socket> onAccepted, ILogger log)
    {
        _socket = new Socket(bindTo.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(new IPEndPoint(bindTo, 0));
            _socket.Listen(4);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _stop.CancelAfter(HelperLimits.DataConnectionWait);
        _ = Task.Run(() => AcceptAsync(client, onAccepted, log));
    }

    public IPEndPoint EndPoint { get; }

    private async Task AcceptAsync(IPAddress client, Action<Socket> onAccepted, ILogger log)
    {
        try
        {
            while (true)
            {
                var accepted = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
                var from = ((IPEndPoint)accepted.RemoteEndPoint!).Address;
                if (FtpControlRelay.SameHost(from, client))
                {
                    accepted.NoDelay = true;
                    onAccepted(accepted);
                    return;
                }
                Log.Foreign(log, EndPoint.ToString(), from.ToString());
                accepted.Dispose();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _socket.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>Stops waiting (the relay ends, or the client asked for another passive port).</summary>
    public void Dispose()
    {
        try { _stop.Cancel(); } catch (ObjectDisposedException) { }
        _socket.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 566, Level = LogLevel.Warning, Message = "ftp helper: passive port {Port} refused a connection from {From}, which is not the FTP client")]
        public static partial void Foreign(ILogger logger, string port, string from);
    }
}

using System.Net;
using System.Net.Sockets;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Forwards;

/// <summary>
/// A local TCP listener of an entry point (forward, SOCKS, HTTP CONNECT). It binds at once, so a port in use
/// is a startup error, and stays up while the tunnel behind it comes and goes.
/// </summary>
public sealed partial class LocalListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Func<Socket, CancellationToken, Task> _onClient;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public LocalListener(HostPort address, string what, Func<Socket, CancellationToken, Task> onClient, ILogger log)
    {
        _onClient = onClient;
        _log = log;
        What = what;
        var ip = address.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(address.Host, out var parsed) ? parsed
            : Dns.GetHostAddresses(address.Host).FirstOrDefault() ?? throw new InvalidOperationException($"cannot resolve {address.Host}");
        _socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(new IPEndPoint(ip, address.Port));
            _socket.Listen(512);
        }
        catch (SocketException ex)
        {
            _socket.Dispose();
            throw new InvalidOperationException($"{what}: cannot listen on {address}: {ex.Message}", ex);
        }
        var bound = (IPEndPoint)_socket.LocalEndPoint!;
        Address = new HostPort(address.Host, bound.Port);
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public HostPort Address { get; }
    public string What { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            client.NoDelay = true;
            _ = Task.Run(async () =>
            {
                try
                {
                    await _onClient(client, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // One client's failure never stops the listener.
                    Log.ClientFailed(_log, What, ex.Message);
                    client.Dispose();
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket.Dispose();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "{Listener}: a local connection failed: {Reason}")]
        public static partial void ClientFailed(ILogger logger, string listener, string reason);
    }
}

using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Lstp.Middle.Relay;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Links;

/// <summary>
/// Accepts the middle's links on its own socket, not through Kestrel's transport (the admin endpoint stays on
/// Kestrel). Kestrel reads every connection ahead into a pipe in 2–16 KiB receives on a loop of its own and sends
/// from another, so a relayed byte crossed four threads and two copies (bench/RESULTS.md: 136 syscalls and 8.8 KB
/// per receive per MiB at the middle). Here a link is read only when its relay asks, with a zero-byte wait first and
/// then one receive of up to <see cref="ReadSize"/> into a pooled buffer taken only once data is there (an idle link
/// holds no buffer), and <see cref="RelayFrames"/> sends RELAY frames to the peer's socket straight from that buffer.
/// </summary>
public sealed partial class LinkListener : IAsyncDisposable
{
    /// <summary>One receive's most: a full uplink frame (64 KiB) of the ends' in one call.</summary>
    public const int ReadSize = 64 * 1024;

    /// <summary>How long a TLS link may take over its handshake (Kestrel's default, which the middle used before).</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long stopping waits for open links to close on their own before aborting them.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(1);


    private readonly Socket _socket;
    private readonly MiddleNode _node;
    private readonly LinkHandler _handler;
    private readonly X509Certificate2? _certificate;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stopping = new();
    /// <summary>The links being served, each with its task (what stopping waits for).</summary>
    private readonly Dictionary<Socket, Task> _open = [];
    private Task _accepting = Task.CompletedTask;

    private LinkListener(Socket socket, MiddleNode node, LinkHandler handler, X509Certificate2? certificate, ILogger log)
    {
        _socket = socket;
        _node = node;
        _handler = handler;
        _certificate = certificate;
        _log = log;
    }

    /// <summary>The address bound (port 0 resolved).</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Binds <paramref name="address"/> and starts accepting; <see cref="IOException"/> when it cannot be bound.</summary>
    public static LinkListener Start(IPEndPoint address, MiddleNode node, LinkHandler handler, X509Certificate2? certificate, ILogger log)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.Bind(address);
            socket.Listen(512);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"cannot bind {address}: {ex.Message}", ex);
        }
        var listener = new LinkListener(socket, node, handler, certificate, log);
        listener._accepting = listener.AcceptAsync();
        return listener;
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // A connection reset before it was accepted, or out of descriptors: this one is lost, the next may not be.
                Log.AcceptFailed(_log, ex.SocketErrorCode, ex.Message);
                continue;
            }
            lock (_open) _open[accepted] = Task.CompletedTask;
            var serving = ServeAsync(accepted);
            lock (_open)
            {
                if (_open.ContainsKey(accepted)) _open[accepted] = serving;
            }
        }
    }

    /// <summary>One link, from its TLS handshake (if any) until its actor is done with it.</summary>
    private async Task ServeAsync(Socket socket)
    {
        var remote = socket.RemoteEndPoint?.ToString() ?? "unknown";
        var network = new NetworkStream(socket, ownsSocket: true);
        Stream stream = network;
        try
        {
            socket.NoDelay = true;
            var rateChecked = false;
            if (_certificate is not null)
            {
                // A TLS handshake costs the middle CPU before a single LSTP byte, so the per-source rate limit is
                // checked before it; a connection over the limit is closed without one (no ERROR can reach it yet).
                var source = LinkSession.SourceOf(remote);
                // A publishing agent's data links and a neighbour middle's node links are not counted (ExemptFromRate).
                if (!_node.ExemptFromRate(source) && !_node.RateLimiter.TryAcquire(source))
                {
                    _node.Metrics.Error(Protocol.ErrorCode.RateLimited, $"too many new connections from {source}, before TLS", source);
                    return;
                }
                rateChecked = true;
                stream = await HandshakeAsync(stream).ConfigureAwait(false);
            }
            var closed = new CancellationTokenSource();
            var reads = new LinkReadPool();
            // The pipe asks for the setup size and reads into what the pool gives (LinkReadPool: 64 KiB once relayed),
            // in a new block once less than 1 KiB is left in the last.
            var input = PipeReader.Create(stream, new StreamPipeReaderOptions(reads, bufferSize: LinkReadPool.SetupBlockSize, minimumReadSize: 1024, useZeroByteReads: true));
            var pipe = new LinkPipe(input, PipeWriter.Create(stream));
            // Closed fires when the link is aborted, when a read finds the end's FIN, and when its actor is done.
            var link = new LinkSession(pipe, remote, closed.Token, _ => Abort(socket, closed), () => _ = closed.CancelAsync(), _certificate is null ? network : null)
            {
                RateChecked = rateChecked,
                ReadPool = reads,
            };
            try
            {
                await _handler.OnConnectedAsync(link).ConfigureAwait(false);
            }
            finally
            {
                await closed.CancelAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            Log.LinkFailed(_log, remote, ex.Message);
        }
        catch (Exception ex)
        {
            Log.LinkBroke(_log, ex, remote);
        }
        finally
        {
            lock (_open) _open.Remove(socket);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<Stream> HandshakeAsync(Stream network)
    {
        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(HandshakeTimeout);
        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            ClientCertificateRequired = false,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, deadline.Token).ConfigureAwait(false);
        return tls;
    }

    /// <summary>Closes the connection at once (both directions), as Kestrel's abort did; the reads and writes on it fail.</summary>
    private static void Abort(Socket socket, CancellationTokenSource closed)
    {
        Close(socket);
        // Not inline: whoever aborts (a link's actor) must not run the waits on Closed in its own call.
        _ = closed.CancelAsync();
    }

    private static void Close(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
        socket.Dispose();
    }

    /// <summary>Stops accepting; the links already open go on.</summary>
    public async Task StopAcceptingAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _accepting.ConfigureAwait(false);
    }

    /// <summary>Stops accepting, gives open links <see cref="StopGrace"/> to close, then aborts what is left.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        if (await AllClosedWithin(StopGrace).ConfigureAwait(false)) return;
        List<Socket> left;
        lock (_open) left = [.. _open.Keys];
        foreach (var socket in left) Close(socket);
        // Their actors see the links fail and let go (each link's actor is bounded by its own output's wait).
        await AllClosedWithin(StopGrace).ConfigureAwait(false);
    }

    private async Task<bool> AllClosedWithin(TimeSpan grace)
    {
        Task[] serving;
        lock (_open) serving = [.. _open.Values];
        try
        {
            await Task.WhenAll(serving).WaitAsync(grace).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "accepting a link failed ({Code}): {Reason}")]
        public static partial void AcceptFailed(ILogger logger, SocketError code, string reason);

        [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "link from {Remote} ended: {Reason}")]
        public static partial void LinkFailed(ILogger logger, string remote, string reason);

        [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "link from {Remote} ended unexpectedly")]
        public static partial void LinkBroke(ILogger logger, Exception error, string remote);
    }
}

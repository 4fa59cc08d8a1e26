using System.Net.Sockets;
using Lstp.EndProxy.Connect;
using Lstp.EndProxy.Services;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Link;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Publish;

/// <summary>A service this end asks the middle to expose on one of its public ports.</summary>
public sealed record PublishSpec(string Service, ushort Port)
{
    /// <summary>Parses <c>SERVICE=PORT</c>.</summary>
    public static PublishSpec Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0 || !ushort.TryParse(text[(eq + 1)..], out var port) || port == 0) throw new FormatException($"--publish '{text}': expected SERVICE=PORT");
        return new PublishSpec(text[..eq].Trim(), port);
    }
}

/// <summary>
/// The agent side of the relay/agent design: keeps one control link to the middle open for a published service;
/// for each PLAIN_CLIENT the middle announces, dials the service and opens a fresh data link that the middle
/// splices to the client. Reconnects with backoff when the control link drops.
/// </summary>
public sealed partial class PublishAgent(PublishSpec spec, ServiceSpec service, EndOptions options, IDialer dialer, ILogger log) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Backoff _backoff = new(options.BackoffMin, options.BackoffMax);
    private Task? _loop;
    private int _seed;

    /// <summary>True while the middle holds the port open for us.</summary>
    public bool Published { get; private set; }

    public string? LastError { get; private set; }

    public void Start() => _loop ??= Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var middle = options.Middles[_seed % options.Middles.Count];
            try
            {
                await ControlAsync(middle, token).ConfigureAwait(false);
                _backoff.Reset();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LastError = ex.Message;
                Log.ControlFailed(log, spec.Service, spec.Port, middle.ToString(), ex.Message);
                if (ex is not ProtocolException { Code: ErrorCode.PublishRefused }) _seed++;
            }
            Published = false;
            try { await Task.Delay(_backoff.Next(), options.Time, token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    private async Task ControlAsync(HostPort middle, CancellationToken token)
    {
        await using var stream = await dialer.DialAsync(middle, token).ConfigureAwait(false);
        var hello = new List<byte>(Preamble.Create(LinkRole.End));
        if (!string.IsNullOrEmpty(options.Token)) hello.AddRange(new Admission(options.Token).ToFrame());
        // The port is ours while this owner (derived from the tunnel secret) holds it: no other end can take it.
        hello.AddRange(new PublishRequest(spec.Service, spec.Port, Tunnel.Security.TunnelSecret.FromPassphrase(options.Secret).PublishOwner).ToFrame());
        await stream.WriteAsync(hello.ToArray(), token).ConfigureAwait(false);

        var reader = new FrameStreamReader(stream);
        await reader.ReadPreambleAsync(token).ConfigureAwait(false);
        var writeLock = new SemaphoreSlim(1, 1);
        using var keepalive = CancellationTokenSource.CreateLinkedTokenSource(token);
        var pinger = PingAsync(stream, writeLock, keepalive.Token);
        try
        {
            byte[]? ticket = null;
            while (true)
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(token);
                silence.CancelAfter(options.Timings.DeadAfter);
                var message = await reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, silence.Token).ConfigureAwait(false)
                    ?? throw new LinkClosedException(ErrorCode.PeerGone, "the middle closed the control link");
                switch (message)
                {
                    case PublishAck ack:
                        ticket = ack.Ticket;
                        Published = true;
                        LastError = null;
                        _backoff.Reset();
                        Log.Published(log, spec.Service, ack.Port, middle.ToString());
                        break;
                    case PlainClient client when ticket is not null:
                        _ = Task.Run(() => ServeClientAsync(middle, client, ticket, token), token);
                        break;
                    case Pong or Waiting:
                        break;
                    case Ping ping:
                        await SendAsync(stream, writeLock, new Pong(ping.Value), token).ConfigureAwait(false);
                        break;
                    case Error error:
                        throw new ProtocolException(error.Code, $"the middle refused to publish {spec.Service} on port {spec.Port}: {error.Reason}");
                    default:
                        throw new ProtocolException(ErrorCode.ProtocolViolation, $"unexpected {message} on the publish control link");
                }
            }
        }
        finally
        {
            keepalive.Cancel();
            try { await pinger.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>One plain client: dial the service, open a data link for it, and copy bytes both ways.</summary>
    private async Task ServeClientAsync(HostPort middle, PlainClient client, byte[] ticket, CancellationToken token)
    {
        Socket? socket = null;
        try
        {
            var dial = await ServiceCatalog.DialTcpAsync(service.Target, token).ConfigureAwait(false);
            socket = dial.Socket;
            await using var data = await dialer.DialAsync(middle, token).ConfigureAwait(false);
            var hello = new List<byte>(Preamble.Create(LinkRole.Data));
            hello.AddRange(new DataLink(client.ClientId, ticket).ToFrame());
            await data.WriteAsync(hello.ToArray(), token).ConfigureAwait(false);
            if (socket is null)
            {
                // Closing the data link at once closes the plain client: the service is not there.
                Log.ServiceDown(log, spec.Service, dial.Reason);
                return;
            }
            var reader = new FrameStreamReader(data);
            await reader.ReadPreambleAsync(token).ConfigureAwait(false);
            using var copying = CancellationTokenSource.CreateLinkedTokenSource(token);
            var toService = ToServiceAsync(reader, socket, copying.Token);
            var toMiddle = ToMiddleAsync(socket, data, copying.Token);
            if (await Task.WhenAny(toService, toMiddle).ConfigureAwait(false) is { IsFaulted: true } or { IsCanceled: true })
            {
                // One direction failed (the data link broke, the service reset): the other would wait for ever on an
                // idle peer. Stop it; the catch below resets the service's connection.
                await copying.CancelAsync().ConfigureAwait(false);
            }
            await Task.WhenAll(toService, toMiddle).ConfigureAwait(false);
            socket.Dispose();
            socket = null;
        }
        catch (Exception ex) when (ex is IOException or SocketException or DialException or OperationCanceledException or EndOfStreamException or ProtocolException)
        {
            Log.ClientFailed(log, spec.Service, client.ClientId, ex.Message);
        }
        finally
        {
            // Not ended in order (no data link, a broken one, a stop): the service sees a reset, never a clean end of stream.
            if (socket is not null) ChannelSockets.Reset(socket);
        }
    }

    /// <summary>RELAY frames from the middle into the service; an empty one ends the stream (half-close).</summary>
    private static async Task ToServiceAsync(FrameStreamReader reader, Socket service, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var header = await reader.ReadHeaderAsync(ProtocolLimits.DefaultMaxPayload, token).ConfigureAwait(false)
                ?? throw new EndOfStreamException("the data link closed without ending its stream");
            if (header.Type != MessageType.Relay) throw new ProtocolException(ErrorCode.ProtocolViolation, "a data link carries only RELAY frames");
            if (header.Length == 0)
            {
                service.Shutdown(SocketShutdown.Send);
                return;
            }
            for (var remaining = header.Length; remaining > 0;)
            {
                var n = await reader.ReadPayloadAsync(buffer, remaining, token).ConfigureAwait(false);
                await service.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, token).ConfigureAwait(false);
                remaining -= n;
            }
        }
    }

    /// <summary>The service's bytes to the middle as RELAY frames, then an empty one at its end of stream.</summary>
    private static async Task ToMiddleAsync(Socket service, Stream data, CancellationToken token)
    {
        var buffer = new byte[ProtocolLimits.HeaderSize + 64 * 1024];
        while (true)
        {
            var n = await service.ReceiveAsync(buffer.AsMemory(ProtocolLimits.HeaderSize), SocketFlags.None, token).ConfigureAwait(false);
            FrameCodec.WriteHeader(buffer, MessageType.Relay, n);
            await data.WriteAsync(buffer.AsMemory(0, ProtocolLimits.HeaderSize + n), token).ConfigureAwait(false);
            if (n == 0) return;
        }
    }

    private async Task PingAsync(Stream stream, SemaphoreSlim writeLock, CancellationToken token)
    {
        ulong sequence = 0;
        while (!token.IsCancellationRequested)
        {
            await Task.Delay(options.Timings.KeepaliveInterval, options.Time, token).ConfigureAwait(false);
            await SendAsync(stream, writeLock, new Ping(++sequence), token).ConfigureAwait(false);
        }
    }

    private static async Task SendAsync(Stream stream, SemaphoreSlim writeLock, Message message, CancellationToken token)
    {
        await writeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(message.ToFrame(), token).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 530, Level = LogLevel.Information, Message = "service {Service} published on the middle {Middle}, port {Port}")]
        public static partial void Published(ILogger logger, string service, int port, string middle);

        [LoggerMessage(EventId = 531, Level = LogLevel.Warning, Message = "publishing {Service} on port {Port} at {Middle} failed: {Reason}; retrying")]
        public static partial void ControlFailed(ILogger logger, string service, int port, string middle, string reason);

        [LoggerMessage(EventId = 532, Level = LogLevel.Information, Message = "published {Service}: plain client {Client} failed: {Reason}")]
        public static partial void ClientFailed(ILogger logger, string service, ulong client, string reason);

        [LoggerMessage(EventId = 533, Level = LogLevel.Warning, Message = "published {Service}: the service is not reachable: {Reason}")]
        public static partial void ServiceDown(ILogger logger, string service, string reason);
    }
}

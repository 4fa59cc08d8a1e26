using System.Collections.Concurrent;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Middle.Relay;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Publishing;

/// <summary>
/// The relay/agent design at the middle: an end's control link asks for a public port (PUBLISH_REQUEST); plain
/// clients on that port are announced to it (PLAIN_CLIENT); the end opens one data link per client
/// (DATA_LINK) and the middle splices the two byte for byte. Ports exist only while their control link does.
/// </summary>
public sealed partial class Publisher(MiddleOptions options, ILogger log, Telemetry.MiddleMetrics metrics)
{
    /// <summary>How long a plain client is held for the end's data link before it is closed.</summary>
    public static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<ushort, PublishedPort> _ports = new();

    /// <summary>Who each port belongs to (a digest of the owner an end presented) and, once its link closed, until when.</summary>
    private readonly Dictionary<ushort, (byte[] Owner, DateTimeOffset? HeldUntil)> _owners = [];
    private readonly Lock _ownersLock = new();

    /// <summary>Live control links per source address: the agents whose data links a public flood must not rate-limit.</summary>
    private readonly ConcurrentDictionary<string, int> _agents = new(StringComparer.Ordinal);

    /// <summary>
    /// True while <paramref name="source"/> holds a publish control link (it passed admission): its data links answer
    /// the public clients of its ports, so they are not counted against its new-connection rate, which a flood of
    /// public clients would otherwise exhaust. Its data links still need a valid ticket.
    /// </summary>
    public bool IsAgent(string source) => _agents.TryGetValue(source, out var links) && links > 0;

    public IReadOnlyCollection<PublishedPort> Ports => [.. _ports.Values];

    public async Task RunControlAsync(LinkSession control, PublishRequest request)
    {
        if (options.PublishRange is not { } range)
        {
            throw new ProtocolException(ErrorCode.PublishRefused, "this middle publishes no ports (see --publish-range)");
        }
        if (request.Port < range.Low || request.Port > range.High)
        {
            throw new ProtocolException(ErrorCode.PublishRefused, $"port {request.Port} is outside this middle's publish range {range.Low}-{range.High}");
        }
        Claim(request);
        PublishedPort port;
        try
        {
            port = new PublishedPort(ListenAddress(), request.Port, request.Service, control, ClaimTimeout, metrics);
        }
        catch (SocketException ex)
        {
            Release(request.Port);
            throw new ProtocolException(ErrorCode.PublishRefused, $"port {request.Port} cannot be opened: {ex.SocketErrorCode}");
        }
        if (!_ports.TryAdd(request.Port, port))
        {
            await port.DisposeAsync().ConfigureAwait(false);
            throw new ProtocolException(ErrorCode.PublishRefused, $"port {request.Port} is already published");
        }
        _agents.AddOrUpdate(control.SourceAddress, 1, (_, n) => n + 1);
        try
        {
            await control.Output.SendAsync(new PublishAck(request.Port, port.Ticket), control.Closed).ConfigureAwait(false);
            port.StartAccepting();
            Log.Published(log, request.Service, request.Port, control.Remote);
            await ReadControlAsync(control).ConfigureAwait(false);
        }
        finally
        {
            _agents.AddOrUpdate(control.SourceAddress, 0, (_, n) => n - 1);
            // Close the listener before forgetting the port: once it is gone from the list, it no longer accepts.
            await port.DisposeAsync().ConfigureAwait(false);
            _ports.TryRemove(request.Port, out _);
            Release(request.Port);
            Log.Unpublished(log, request.Service, request.Port);
        }
    }

    /// <summary>
    /// Makes the port the requester's, or refuses: a port belongs to the owner that first published it, while it is
    /// published and for <see cref="MiddleOptions.PublishHold"/> after, so nobody can take it while its agent
    /// reconnects. Only a digest of the owner is kept.
    /// </summary>
    private void Claim(PublishRequest request)
    {
        var owner = SHA256.HashData(request.Owner);
        var now = options.Time.GetUtcNow();
        lock (_ownersLock)
        {
            if (_owners.TryGetValue(request.Port, out var held) && !CryptographicOperations.FixedTimeEquals(held.Owner, owner) && (held.HeldUntil is null || held.HeldUntil > now))
            {
                throw new ProtocolException(ErrorCode.PublishRefused, held.HeldUntil is null
                    ? $"port {request.Port} is published by another end"
                    : $"port {request.Port} is held for the end that published it until {held.HeldUntil:HH:mm:ss} UTC");
            }
            _owners[request.Port] = (owner, null);
            // Forget owners whose hold ran out, so the table holds at most the publish range.
            foreach (var (port, (_, until)) in _owners.Where(o => o.Value.HeldUntil <= now).ToList()) _owners.Remove(port);
        }
    }

    /// <summary>The port's control link closed: its owner keeps it for the hold.</summary>
    private void Release(ushort port)
    {
        lock (_ownersLock)
        {
            if (_owners.TryGetValue(port, out var held) && held.HeldUntil is null) _owners[port] = (held.Owner, options.Time.GetUtcNow() + options.PublishHold);
        }
    }

    /// <summary>The control link carries only keepalives after PUBLISH_ACK; it ends when the end goes away.</summary>
    private async Task ReadControlAsync(LinkSession control)
    {
        var input = control.Input;
        while (true)
        {
            ReadResult result;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(control.Closed))
            {
                idle.CancelAfter(options.IdleTimeout);
                try
                {
                    result = await input.ReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!control.Closed.IsCancellationRequested)
                {
                    throw new ProtocolException(ErrorCode.KeepaliveTimeout, $"no traffic for {options.IdleTimeout.TotalSeconds:0} s");
                }
            }
            var buffer = result.Buffer;
            var replies = new List<Message>();
            try
            {
                while (MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.MaxSetupPayload, out var message))
                {
                    switch (message)
                    {
                        case Ping ping: replies.Add(new Pong(ping.Value)); break;
                        case Pong: break;
                        default: throw new ProtocolException(ErrorCode.ProtocolViolation, $"{message} is not allowed on a publish control link");
                    }
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            foreach (var reply in replies) await control.Output.SendAsync(reply, control.Closed).ConfigureAwait(false);
            if (result.IsCompleted || result.IsCanceled) return;
        }
    }

    /// <summary>A data link for one plain client: check its ticket, then copy bytes both ways until both sides close.</summary>
    public async Task SpliceAsync(LinkSession data, DataLink request)
    {
        var port = _ports.Values.FirstOrDefault(p => CryptographicOperations.FixedTimeEquals(p.Ticket, request.Ticket))
            ?? throw new ProtocolException(ErrorCode.AdmissionDenied, "DATA_LINK with an unknown ticket");
        using var client = port.Claim(request.ClientId)
            ?? throw new ProtocolException(ErrorCode.PeerGone, $"plain client {request.ClientId} is no longer waiting");
        try
        {
            await SpliceAsync(data, request, client).ConfigureAwait(false);
        }
        finally
        {
            metrics.PublishedClientLeft();
        }
    }

    private async Task SpliceAsync(LinkSession data, DataLink request, Socket client)
    {
        // After DATA_LINK both directions are RELAY frames; an empty RELAY frame ends a direction. The end of a
        // stream is said in-band because closing a link's output here closes the whole connection.
        var toClient = Task.Run(async () =>
        {
            var input = data.Input;
            long remaining = 0;
            await using var clientStream = new NetworkStream(client, ownsSocket: false);
            // Without TLS at the middle, the rest of a large frame goes from the data link's socket to the client's
            // inside the kernel, as a tunnel's relay does (PayloadSplice); the link is then read in small blocks. Asked
            // again until it can be had: the client's socket turns non-blocking with its first asynchronous receive.
            PayloadSplice? splice = null;
            PayloadSplice? Splicer() => PayloadSplice.Refused ? null
                : splice ??= data.Output.Plain is { } link ? PayloadSplice.Between(link, clientStream, options.IdleTimeout, metrics) : null;
            try
            {
                while (true)
                {
                    var result = await input.ReadAsync().ConfigureAwait(false);
                    var buffer = result.Buffer;
                    var ended = false;
                    while (!ended)
                    {
                        if (remaining > 0)
                        {
                            if (buffer.IsEmpty) break;
                            var take = buffer.Slice(0, Math.Min(remaining, buffer.Length));
                            // Counted before it is sent, so that a client that has the bytes finds them counted.
                            metrics.PublishedRelayed(take.Length, toClient: true);
                            foreach (var segment in take) await client.SendAsync(segment, SocketFlags.None).ConfigureAwait(false);
                            remaining -= take.Length;
                            buffer = buffer.Slice(take.End);
                            continue;
                        }
                        if (buffer.Length < ProtocolLimits.HeaderSize) break;
                        var header = buffer.Slice(0, ProtocolLimits.HeaderSize).ToArray();
                        if (header[0] != (byte)MessageType.Relay) throw new ProtocolException(ErrorCode.ProtocolViolation, "a data link carries only RELAY frames");
                        remaining = FrameCodec.ReadLength(header);
                        buffer = buffer.Slice(ProtocolLimits.HeaderSize);
                        ended = remaining == 0;
                        if (data.ReadPool is { } pool) pool.Splicing = remaining >= PayloadSplice.Least && Splicer() is not null;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (ended)
                    {
                        client.Shutdown(SocketShutdown.Send);
                        return;
                    }
                    if (result.IsCompleted) throw new EndOfStreamException("the data link closed without ending its stream");
                    // The read ended inside a large frame: nothing of it is left in the pipe, its rest is still in the
                    // socket (the pipe reads only when asked).
                    if (remaining >= PayloadSplice.Least && Splicer() is { } kernel)
                    {
                        var taken = await kernel.MoveAsync(remaining, CancellationToken.None).ConfigureAwait(false);
                        remaining -= taken;
                        metrics.PublishedRelayed(taken, toClient: true);
                        metrics.PublishedSpliced(taken);
                    }
                }
            }
            catch (Exception ex)
            {
                Log.SpliceFailed(log, request.ClientId, "to the client", ex.Message);
                client.LingerState = new LingerOption(true, 0);
                client.Close();
            }
            finally
            {
                splice?.Release();
            }
        });
        var fromClient = Task.Run(async () =>
        {
            var buffer = new byte[ProtocolLimits.HeaderSize + 64 * 1024];
            try
            {
                // What the client sent while it waited is in its socket buffer: it is forwarded first.
                while (true)
                {
                    var n = await client.ReceiveAsync(buffer.AsMemory(ProtocolLimits.HeaderSize), SocketFlags.None).ConfigureAwait(false);
                    FrameCodec.WriteHeader(buffer, MessageType.Relay, n);
                    metrics.PublishedRelayed(n, toClient: false);
                    await data.Output.SendAsync(buffer.AsMemory(0, ProtocolLimits.HeaderSize + n), data.Closed).ConfigureAwait(false);
                    if (n == 0) break;
                }
            }
            catch (Exception ex)
            {
                Log.SpliceFailed(log, request.ClientId, "from the client", ex.Message);
                data.Abort($"plain client failed: {ex.Message}");
            }
        });
        await Task.WhenAll(toClient, fromClient).ConfigureAwait(false);
    }

    private IPAddress ListenAddress() =>
        IPAddress.TryParse(options.Listen.Host, out var ip) ? ip : IPAddress.Any;

    private static partial class Log
    {
        [LoggerMessage(EventId = 130, Level = LogLevel.Information, Message = "published service {Service} on port {Port} for the end at {Remote}")]
        public static partial void Published(ILogger logger, string service, int port, string remote);

        [LoggerMessage(EventId = 132, Level = LogLevel.Information, Message = "plain client {Client}: copying {Direction} failed: {Reason}")]
        public static partial void SpliceFailed(ILogger logger, ulong client, string direction, string reason);

        [LoggerMessage(EventId = 131, Level = LogLevel.Information, Message = "closed published port {Port} ({Service})")]
        public static partial void Unpublished(ILogger logger, string service, int port);
    }
}

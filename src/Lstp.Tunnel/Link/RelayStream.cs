using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport.Dialing;

namespace Lstp.Tunnel.Link;

/// <summary>
/// The end-to-end byte stream carried over one link to the middle: writes become RELAY frames, reads return
/// the payload of the RELAY frames that arrive. Link-level frames beside them (PING/PONG, ERROR, REDIRECT)
/// are answered or surfaced here, so the tunnel above sees only its peer's bytes. Writes are buffered into
/// large relay frames and sent on flush, keeping the middle's data path a near-copy loop.
/// </summary>
public sealed partial class RelayStream : Stream
{
    /// <summary>Largest relay payload we build: big frames keep per-frame work on the middle negligible.</summary>
    public const int MaxRelayPayload = 256 * 1024;

    private readonly Stream _link;
    private readonly FrameStreamReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _writeBuffer = new byte[ProtocolLimits.HeaderSize + MaxRelayPayload];
    private readonly TimeProvider _time;
    private readonly LinkTimings _timings;
    private readonly CancellationTokenSource _closed = new();
    /// <summary>A RELAY frame this large is read without reading ahead: its end alone, then the next header alone (<see cref="HeaderRead"/>).</summary>
    private const int LargeRelay = 32 * 1024;

    /// <summary>
    /// What a header read after a large frame takes at most: the header and a small frame after it, or the first bytes
    /// of a large one, whose rest is then read straight into the reader's buffer above (one receive more per large
    /// frame, instead of copying up to 64 KiB of it out of ours).
    /// </summary>
    private const int HeaderRead = 1024;

    private int _writeCount;
    private int _relayRemaining;
    /// <summary>The RELAY frame read last was at least <see cref="LargeRelay"/>: the link is carrying bulk data.</summary>
    private bool _largeRelay;
    private long _lastReceived;
    private long _lastSent;
    private readonly Task _keepalive;

    public RelayStream(Stream link, FrameStreamReader reader, LinkTimings timings, TimeProvider time)
    {
        _link = link;
        _reader = reader;
        _timings = timings;
        _time = time;
        _lastReceived = _lastSent = time.GetTimestamp();
        _keepalive = KeepaliveAsync();
    }

    /// <summary>Total relay payload bytes sent and received (for TUNNEL_REPORT and the demo).</summary>
    public long BytesSent { get; private set; }
    public long BytesReceived { get; private set; }

    /// <summary>True when this stream closed the link itself because nothing arrived for the dead-after time.</summary>
    public bool WentSilent { get; private set; }

    /// <summary>
    /// Set when end-to-end TLS reads this stream. TLS asks for one record (at most 16 KiB) at a time, so large frames are
    /// still read ahead into our buffer for it: read straight into TLS's buffer, each record was a receive of its own
    /// (the TLS receiving end made 72–76 receives per MiB instead of 19–20, perf stat under iperf3).
    /// </summary>
    public bool ReadByTls { get; set; }

    /// <summary>The link carries bulk data to a reader that takes whole payloads: read its frames without reading ahead.</summary>
    private bool ReadsStraight => (_largeRelay && !ReadByTls) || Splicing;


    /// <summary>Hears the cluster's live middles whenever the middle lists them (MIDDLE_MEMBERS).</summary>
    public Action<MiddleMembers>? OnMembers { get; init; }

    /// <summary>Set when the middle told us to move (REDIRECT).</summary>
    public string? RedirectTo { get; private set; }

    /// <summary>Why the stream ended, when the middle said in band that the peer's link closed (ERROR(PeerGone)).</summary>
    public string? PeerLeft { get; private set; }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The reads' token: the caller's linked with the link's closing, for the caller token <see cref="_readCaller"/>.</summary>
    private CancellationTokenSource? _readLinked;
    private CancellationToken _readCaller;

    /// <summary>
    /// The token a read waits on: the caller's, or the link's closing. A link is read by one loop with one token, so the
    /// linked source is made once per caller token rather than per read (it was an allocation per read, bench/micro).
    /// Reads never overlap (a stream's contract), so replacing it cannot pull it from under a pending read.
    /// </summary>
    private CancellationToken ReadToken(CancellationToken caller)
    {
        if (!caller.CanBeCanceled) return _closed.Token;
        if (_readLinked is null || caller != _readCaller)
        {
            _readLinked?.Dispose();
            _readLinked = CancellationTokenSource.CreateLinkedTokenSource(caller, _closed.Token);
            _readCaller = caller;
        }
        return _readLinked.Token;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var linked = ReadToken(cancellationToken);
        try
        {
            if (!await NextPayloadAsync(linked).ConfigureAwait(false)) return 0;
            // The end of a large frame is read alone too, not with the next frame's start behind it.
            var n = await _reader.ReadPayloadAsync(buffer, _relayRemaining, linked, direct: ReadsStraight).ConfigureAwait(false);
            _relayRemaining -= n;
            BytesReceived += n;
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            return n;
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Silent();
        }
    }

    /// <summary>
    /// Reads up to the next RELAY payload byte, answering or surfacing the link frames before it; false at the end
    /// of the stream (the link's FIN, or the middle's ERROR(PeerGone)).
    /// </summary>
    private async ValueTask<bool> NextPayloadAsync(CancellationToken linked)
    {
        while (_relayRemaining == 0)
        {
            if (PeerLeft is not null) return false;
            // After a large RELAY frame the next is likely large too: its header is read alone (with a little of what
            // follows, or nothing at all while splicing), so the payload is read straight into the caller's buffer
            // (or spliced) instead of through ours.
            var header = await _reader.ReadHeaderAsync(MaxRelayPayload, linked, Splicing ? ProtocolLimits.HeaderSize : ReadsStraight ? HeaderRead : int.MaxValue).ConfigureAwait(false);
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            if (header is null) return false;
            var (type, length) = header.Value;
            if (type == MessageType.Relay)
            {
                _relayRemaining = length;
                _largeRelay = length >= LargeRelay;
                continue;
            }
            if (length > ProtocolLimits.MaxSetupPayload) throw new ProtocolException(ErrorCode.FrameTooLarge, $"link {MessageNames.Of(type)} of {length} bytes");
            var message = await _reader.ReadBodyAsync(type, length, linked).ConfigureAwait(false);
            if (message is Error { Code: ErrorCode.PeerGone } gone)
            {
                // The middle's end of stream: everything the peer sent is before it (protocol §7.1, closing a link).
                PeerLeft = gone.Reason;
                return false;
            }
            await HandleLinkFrameAsync(message, linked).ConfigureAwait(false);
        }
        return true;
    }

    private LinkClosedException Silent() => new(ErrorCode.KeepaliveTimeout, $"the link to the middle was silent for {_timings.DeadAfter.TotalSeconds:0} s");

    /// <summary>
    /// Before pairing: reads the middle's answers (WAITING, the peer's COMMONUNIQUE_INFO and TOPOLOGY_EXCHANGE)
    /// until the peer's setup is complete. Keepalives run meanwhile, so an end may wait for minutes.
    /// </summary>
    public async Task<(CommonUniqueInfo Peer, TopologyExchange Path)> AwaitPairingAsync(Action<Waiting>? onWaiting, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        CommonUniqueInfo? peer = null;
        try
        {
            while (true)
            {
                var message = await _reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, linked.Token).ConfigureAwait(false)
                    ?? throw new LinkClosedException(ErrorCode.PeerGone, "the middle closed the link before pairing");
                Volatile.Write(ref _lastReceived, _time.GetTimestamp());
                switch (message)
                {
                    case Waiting waiting:
                        onWaiting?.Invoke(waiting);
                        break;
                    case CommonUniqueInfo info:
                        peer = info;
                        break;
                    case TopologyExchange path when peer is not null:
                        return (peer, path);
                    default:
                        await HandleLinkFrameAsync(message, linked.Token).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new LinkClosedException(ErrorCode.KeepaliveTimeout, $"the link to the middle was silent for {_timings.DeadAfter.TotalSeconds:0} s");
        }
    }

    private async ValueTask HandleLinkFrameAsync(Message message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case Ping ping:
                await SendLinkAsync(new Pong(ping.Value), cancellationToken).ConfigureAwait(false);
                break;
            case Pong:
                break;
            case Waiting:
                break; // the middle may say WAITING just after pairing raced it; it is only informational
            case MiddleMembers members:
                OnMembers?.Invoke(members);
                break;
            case Error error:
                throw new LinkClosedException(error.Code, $"the middle closed the link: {error.Reason} ({error.Code})");
            case Redirect redirect:
                RedirectTo = redirect.Address;
                throw new LinkClosedException(ErrorCode.MiddleDraining, $"the middle asked us to move to {redirect.Address}: {redirect.Reason}", redirect.Address);
            default:
                throw new ProtocolException(ErrorCode.ProtocolViolation, $"{message} is not allowed on a paired link");
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // Synchronous writes are not on any path we use; keep them correct anyway.
        WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (_writeCount == 0 && buffer.Length >= DirectWrite && _link is NetworkStream network && MemoryMarshal.TryGetArray(buffer, out var payload))
            {
                var n = Math.Min(buffer.Length, MaxRelayPayload);
                await SendDirectAsync(network.Socket, payload.Slice(0, n), cancellationToken).ConfigureAwait(false);
                buffer = buffer[n..];
            }
            while (!buffer.IsEmpty)
            {
                var n = Math.Min(buffer.Length, MaxRelayPayload - _writeCount);
                buffer.Span[..n].CopyTo(_writeBuffer.AsSpan(ProtocolLimits.HeaderSize + _writeCount));
                _writeCount += n;
                buffer = buffer[n..];
                if (_writeCount == MaxRelayPayload) await SendBufferedAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writeCount > 0) await SendBufferedAsync(cancellationToken).ConfigureAwait(false);
            await _link.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask SendBufferedAsync(CancellationToken cancellationToken)
    {
        FrameCodec.WriteHeader(_writeBuffer, MessageType.Relay, _writeCount);
        await _link.WriteAsync(_writeBuffer.AsMemory(0, ProtocolLimits.HeaderSize + _writeCount), cancellationToken).ConfigureAwait(false);
        BytesSent += _writeCount;
        _writeCount = 0;
        Volatile.Write(ref _lastSent, _time.GetTimestamp());
    }

    /// <summary>
    /// A write this large, with nothing buffered before it, is sent as its own RELAY frame from the caller's array (a
    /// tunnel's bulk SERVICE_DATA is 256 KiB): its header and payload in one gather send, without the copy into our
    /// buffer, which was most of the memmove in a plaintext sending end. Smaller writes are still gathered into large
    /// frames: RELAY frames of 64 KiB each cost the middle more than the copy saved (a header and a splice more per
    /// frame). Under end-to-end TLS every write is one record (16 KiB) and is copied as before.
    /// </summary>
    private const int DirectWrite = MaxRelayPayload / 2;

    private readonly byte[] _directHeader = new byte[ProtocolLimits.HeaderSize];
    private readonly ArraySegment<byte>[] _direct = new ArraySegment<byte>[2];

    private async ValueTask SendDirectAsync(Socket socket, ArraySegment<byte> payload, CancellationToken cancellationToken)
    {
        FrameCodec.WriteHeader(_directHeader, MessageType.Relay, payload.Count);
        _direct[0] = _directHeader;
        _direct[1] = payload;
        int sent;
        try
        {
            // A stream socket sends all of a gather or fails; the check below only guards that promise. The gather
            // send takes no token: a cancelled write closes the link (a frame cut short has spoilt it anyway), and
            // returns only once the send has stopped reading the caller's array.
            var send = socket.SendAsync(_direct, SocketFlags.None);
            if (!send.IsCompleted && cancellationToken.CanBeCanceled)
            {
                await using (cancellationToken.UnsafeRegister(static link => ((Socket)link!).Dispose(), socket))
                {
                    try { sent = await send.ConfigureAwait(false); }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException && cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(cancellationToken);
                    }
                }
            }
            else sent = await send.ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            // As NetworkStream reports a failed send, so that callers see the same exception either way.
            throw new IOException($"Unable to write data to the transport connection: {ex.Message}", ex);
        }
        finally
        {
            _direct[1] = default;
        }
        var total = ProtocolLimits.HeaderSize + payload.Count;
        if (sent < total) throw new IOException($"the link took {sent} of a {total}-byte frame");
        BytesSent += payload.Count;
        Volatile.Write(ref _lastSent, _time.GetTimestamp());
    }

    /// <summary>Sends one link-level frame (PONG, PING, TUNNEL_REPORT) between relay frames.</summary>
    public async ValueTask SendLinkAsync(Message message, CancellationToken cancellationToken)
    {
        var frame = message.ToFrame();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Relay bytes buffered before this frame go first: the stream's order is preserved.
            if (_writeCount > 0) await SendBufferedAsync(cancellationToken).ConfigureAwait(false);
            await _link.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _link.FlushAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastSent, _time.GetTimestamp());
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task KeepaliveAsync()
    {
        ulong sequence = 0;
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                await Task.Delay(_timings.KeepaliveInterval / 2, _time, _closed.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(Volatile.Read(ref _lastReceived)) > _timings.DeadAfter)
                {
                    // A blackholed path gives no FIN or RST: give up on it ourselves.
                    WentSilent = true;
                    _closed.Cancel();
                    _link.Dispose();
                    return;
                }
                if (_time.GetElapsedTime(Volatile.Read(ref _lastSent)) >= _timings.KeepaliveInterval)
                {
                    // A write stuck on a full socket holds the lock: give up on this ping, not on watching the link.
                    using var timeout = new CancellationTokenSource(_timings.KeepaliveInterval / 2);
                    try { await SendLinkAsync(new Ping(++sequence), timeout.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested) { }
                }
            }
        }
        catch (Exception)
        {
            // The link failed or closed; the reader reports why, so nothing is lost by ending here.
        }
    }

    /// <summary>
    /// Closes the link as TCP means it to be closed: what was written goes first, then a FIN, then whatever still
    /// arrives is read and dropped until the middle closes its side (or <paramref name="grace"/> passes). Closing
    /// a socket that holds unread bytes makes the kernel reset the connection and throw away what it had not yet
    /// sent, which would be the tail of the tunnel's last data.
    /// </summary>
    public async Task CloseAsync(TimeSpan grace)
    {
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
        try
        {
            using var deadline = new CancellationTokenSource(grace, _time);
            await FlushAsync(deadline.Token).ConfigureAwait(false);
            if (_link is SslStream tls) await tls.ShutdownAsync().WaitAsync(deadline.Token).ConfigureAwait(false); // close_notify
            if (LinkSocket.Of(_link) is { } socket)
            {
                socket.Shutdown(SocketShutdown.Send);
                var scratch = new byte[16 * 1024];
                while (await socket.ReceiveAsync(scratch, SocketFlags.None, deadline.Token).ConfigureAwait(false) > 0)
                {
                }
            }
        }
        catch (Exception)
        {
            // Reset, timed out or already closed: nothing more can be saved by waiting.
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try { _closed.Cancel(); } catch (ObjectDisposedException) { }
            // Unregisters from the caller's token, which may outlive this link (a resumed tunnel reads a new one).
            _readLinked?.Dispose();
            _link.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
        await _link.DisposeAsync().ConfigureAwait(false);
        try { await _keepalive.ConfigureAwait(false); } catch { }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Flush() => FlushAsync().GetAwaiter().GetResult();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

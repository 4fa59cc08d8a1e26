using System.Runtime.ExceptionServices;
using Lstp.Protocol;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Resumption;

/// <summary>
/// A tunnel's end-to-end stream as its reader and writer see it: one stream for the tunnel's whole life, carried by
/// one link after another. Below it is the current link's session (TLS over RELAY frames, or the bare RELAY stream);
/// when that link breaks, reads and writes wait here instead of failing, and the tunnel's keeper pairs a new link and
/// hands it over (<see cref="ResumeAsync"/>). Then the bytes the peer did not receive are sent again from the
/// <see cref="ReplayBuffer"/>, and the reader carries on where it stopped: every byte arrives once and in order.
/// <para>
/// Offsets count from the first byte after the handshake. The peer acknowledges what it received (STREAM_ACK); what
/// this end holds unacknowledged is bounded by <see cref="Window"/>, which the tunnel's writer waits for before data.
/// A stream that is not resumable (resumption off at either end, a dedicated tunnel) keeps nothing and fails on the
/// first break, as a plain stream does. So does one whose peer finished (SHUTDOWN, ERROR) or that is closing.
/// </para>
/// </summary>
public sealed partial class ResumableStream : Stream
{
    /// <summary>
    /// What a sender may hold unacknowledged: a few round trips of a fast link, and the cost of replay in memory. What is
    /// unacknowledged includes what the kernels and the middle buffer on the way (several MiB on a fast path), so a window
    /// near that stalls the sender: iperf3 against resumption off, 8 MiB ran at 0.80-0.93x, 16 MiB at 0.83-1.09x (1
    /// stream) and 0.93-0.98x (8 streams) over three runs, 32 MiB at 0.95-1.01x (bench/resume/RESULTS.md); an end holds
    /// its window at most, RSS +27-37 MiB over resumption off while streaming.
    /// </summary>
    public const int DefaultWindow = 32 * 1024 * 1024;

    /// <summary>
    /// A receiver acknowledges at least every this many bytes: well under the window, so the sender never waits on a
    /// fast link, and not so often that one-way bulk traffic pays a TLS record and a flush the other way for every few
    /// frames (512 KiB cost more than it saved; measured in bench/resume).
    /// </summary>
    public const int AckQuantum = 2 * 1024 * 1024;

    private readonly object _gate = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ReplayBuffer? _replay;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _time;
    private Stream? _current;
    private byte[] _pending;
    private int _pendingStart;
    private TaskCompletionSource _resumed = Completed();
    private TaskCompletionSource _window = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _graceTimer;
    private long _received;
    private long _ackSent;
    /// <summary>Something other than STREAM_ACK arrived since the last STREAM_ACK went out (acks are never acknowledged).</summary>
    private bool _ackable;
    private long _brokenAt;
    private bool _final;
    /// <summary>Set while a resume writes the replay outside the lock: acknowledgements wait, so no chunk goes back to the pool mid-write.</summary>
    private bool _replaying;
    private long _deferredAck;
    private Exception? _failure;

    /// <param name="first">The first link's session stream.</param>
    /// <param name="leftover">Bytes the handshake read past its last message: the stream's first bytes.</param>
    /// <param name="resumable">Both ends agreed to resume this tunnel: keep what is sent until acknowledged.</param>
    /// <param name="grace">How long a broken stream waits for a new link before it fails for good.</param>
    public ResumableStream(Stream first, byte[] leftover, bool resumable, TimeSpan grace, TimeProvider time)
    {
        _current = first;
        _pending = leftover;
        _replay = resumable && grace > TimeSpan.Zero ? new ReplayBuffer() : null;
        _grace = grace;
        _time = time;
    }

    /// <summary>Raised once per break, with what broke it: the owner pairs a new link, or lets the grace run out.</summary>
    public Action<Exception>? Broken { get; set; }

    /// <summary>True when a break waits for a new link instead of failing.</summary>
    public bool Resumable => _replay is not null;

    /// <summary>True between a break and the resume (or the end of the grace).</summary>
    public bool IsBroken
    {
        get { lock (_gate) return _current is null && _failure is null; }
    }

    /// <summary>How many times the stream moved to a new link.</summary>
    public int Resumptions { get; private set; }

    /// <summary>When the stream last resumed (a <see cref="TimeProvider"/> timestamp; 0 before any).</summary>
    public long LastResumed { get; private set; }

    /// <summary>How long the last break lasted, from the break to the replayed stream.</summary>
    public TimeSpan? LastResumeTook { get; private set; }

    /// <summary>Bytes received from the peer (what STREAM_ACK and RESUME report).</summary>
    public long Received
    {
        get { lock (_gate) return _received; }
    }

    /// <summary>Bytes kept for replay now (the memory resumption costs this tunnel).</summary>
    public long Held
    {
        get { lock (_gate) return _replay?.Held ?? 0; }
    }

    public int Window { get; init; } = DefaultWindow;

    /// <summary>The peer has received enough since the last STREAM_ACK that it is owed one now.</summary>
    public bool AckDue
    {
        get { lock (_gate) return _replay is not null && _received - _ackSent >= AckQuantum; }
    }

    /// <summary>
    /// A frame other than STREAM_ACK arrived since the last STREAM_ACK (the keepalive tick sends one then). Acks alone
    /// owe nothing: otherwise two idle ends would acknowledge each other's acknowledgements forever.
    /// </summary>
    public bool AckOwed
    {
        get { lock (_gate) return _replay is not null && _ackable && _received > _ackSent; }
    }

    /// <summary>The reader read a frame that is not STREAM_ACK: the peer is owed an acknowledgement for it.</summary>
    public void MarkAckable()
    {
        lock (_gate) _ackable = true;
    }

    /// <summary>The value for the next STREAM_ACK; marks it sent.</summary>
    public long TakeAck()
    {
        lock (_gate)
        {
            _ackSent = _received;
            _ackable = false;
            return _received;
        }
    }

    /// <summary>What this end offers to resume with (the caller supplies the secret).</summary>
    public ResumeOffer Offer(ResumeSecret secret)
    {
        lock (_gate) return new ResumeOffer(secret, _received);
    }

    /// <summary>The peer received everything up to <paramref name="offset"/> (STREAM_ACK): forget it.</summary>
    public void Acknowledged(long offset)
    {
        TaskCompletionSource opened;
        lock (_gate)
        {
            if (_replay is null) return;
            if (offset > _replay.End) throw new ProtocolException(ErrorCode.ProtocolViolation, $"STREAM_ACK for {offset} bytes, but only {_replay.End} were sent");
            if (_replaying) _deferredAck = Math.Max(_deferredAck, offset);
            else _replay.Trim(offset);
            opened = _window;
            _window = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        opened.TrySetResult();
    }

    /// <summary>True when <paramref name="count"/> more bytes fit in the window (always, when nothing is kept).</summary>
    public bool HasWindow(int count)
    {
        lock (_gate) return _replay is null || _replay.Held == 0 || _replay.Held + count <= Window;
    }

    /// <summary>Completes at the next acknowledgement (or failure).</summary>
    public Task WindowChanged
    {
        get { lock (_gate) return _failure is null ? _window.Task : Task.CompletedTask; }
    }

    /// <summary>The peer finished the tunnel (SHUTDOWN, or ERROR end to end): its end of stream is final.</summary>
    public void PeerFinished()
    {
        lock (_gate) _final = true;
    }

    /// <summary>This end is closing the tunnel: no more resuming; a break now, or one under way, is final.</summary>
    public void StopResuming() => GiveUp(new ObjectDisposedException(nameof(ResumableStream), "the tunnel is closing"), final: true);

    /// <summary>Ends a break for good (the grace ran out, or the peer turned out to be another end): reads and writes fail.</summary>
    public void Abandon(string reason) => GiveUp(new TunnelClosedException(ErrorCode.PeerGone, reason), final: false);

    private void GiveUp(Exception why, bool final)
    {
        TaskCompletionSource resumed, window;
        lock (_gate)
        {
            if (final) _final = true;
            if (_current is not null || _failure is not null) return;
            _failure = why;
            resumed = _resumed;
            window = _window;
            // A write on the link given up may still be reading a kept array (an adopted frame's, or a resume's
            // replay): while one holds the write lock the arrays are left to the GC, not lent out again.
            _replay?.Clear(toPools: _writeLock.CurrentCount > 0);
        }
        _graceTimer?.Dispose();
        resumed.TrySetException(why);
        window.TrySetResult();
    }

    /// <summary>
    /// Carries on over <paramref name="next"/>, the new link's session stream: reads continue at once (first with
    /// <paramref name="leftover"/>, what the new handshake read past its end), then what the peer did not receive,
    /// from <paramref name="peerReceived"/> on, is written again before any new write. False when the stream is no
    /// longer waiting for a link, or the peer's count is impossible (it would lose or repeat bytes); the caller then
    /// closes <paramref name="next"/>.
    /// </summary>
    public async Task<bool> ResumeAsync(Stream next, byte[] leftover, long peerReceived)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            TaskCompletionSource resumed;
            List<ReadOnlyMemory<byte>> replay;
            lock (_gate)
            {
                if (_current is not null || _failure is not null || _replay is null) return false;
                if (peerReceived < _replay.Start || peerReceived > _replay.End)
                {
                    // Bytes it acknowledged are gone from its side, or it claims more than was sent: never splice.
                    _failure = new TunnelClosedException(ErrorCode.ProtocolViolation,
                        $"the peer resumed at byte {peerReceived}, outside what this end kept ({_replay.Start}..{_replay.End})");
                    _resumed.TrySetException(_failure);
                    _window.TrySetResult();
                    return false;
                }
                _replay.Trim(peerReceived);
                replay = [.. _replay.From(peerReceived)];
                _replaying = true;
                // Reads go on at once: the peer replays to us while we replay to it, and neither may wait for the other.
                _current = next;
                if (next is RelayStream relay) relay.Splicing = _splicing;
                _pending = leftover;
                _pendingStart = 0;
                resumed = _resumed;
                Resumptions++;
                LastResumed = _time.GetTimestamp();
                LastResumeTook = _time.GetElapsedTime(_brokenAt);
            }
            _graceTimer?.Dispose();
            resumed.TrySetResult();
            try
            {
                foreach (var segment in replay) await next.WriteAsync(segment).ConfigureAwait(false);
                await next.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The new link broke while replaying: another break, handled like any other.
                Break(next, ex);
            }
            finally
            {
                lock (_gate)
                {
                    _replaying = false;
                    if (_deferredAck > _replay.Start && _failure is null) _replay.Trim(_deferredAck);
                }
            }
            return true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (await LinkAsync(cancellationToken).ConfigureAwait(false) is not { } link)
            {
                lock (_gate)
                {
                    var pending = Pending(buffer.Length);
                    if (pending.IsEmpty) continue;
                    pending.CopyTo(buffer.Span);
                    return TookPending(pending.Length);
                }
            }
            int read;
            Exception? error = null;
            try
            {
                read = await link.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                read = 0;
                error = ex;
            }
            lock (_gate)
            {
                if (read > 0)
                {
                    // Bytes from a link already given up are not counted: the peer sends them again after the resume.
                    if (!ReferenceEquals(_current, link)) continue;
                    _received += read;
                    return read;
                }
            }
            if (Break(link, error)) continue;
            if (error is null) return 0;
            ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>
    /// The link that reads and moves take from next, once the stream has one (after a break, when it resumes); null
    /// while bytes the handshake read past its end are left, which come first (<see cref="Pending"/>). Throws the
    /// stream's final failure.
    /// </summary>
    private async ValueTask<Stream?> LinkAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task resumed;
            lock (_gate)
            {
                if (_pendingStart < _pending.Length) return null;
                if (_failure is not null) ExceptionDispatchInfo.Throw(_failure);
                if (_current is { } link) return link;
                resumed = _resumed.Task;
            }
            await resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Under the lock: up to <paramref name="max"/> of the bytes the handshake read past its end (empty when none are left).</summary>
    private ReadOnlySpan<byte> Pending(int max) => _pending.AsSpan(_pendingStart, Math.Min(max, _pending.Length - _pendingStart));

    /// <summary>Under the lock: <paramref name="count"/> of the <see cref="Pending"/> bytes were taken, and count as received.</summary>
    private int TookPending(int count)
    {
        _pendingStart += count;
        _received += count;
        return count;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        // Kept before it is written: if the write fails half way, the replay sends all of it again.
        OnCurrentLinkAsync(buffer, keep: true, rented: null, static (link, bytes, token) => link.WriteAsync(bytes, token), cancellationToken);

    /// <summary>
    /// Writes the first <paramref name="length"/> bytes of <paramref name="rented"/>, an array from
    /// <see cref="Chunk.Pool"/> that this stream now owns, whatever happens: a large frame is
    /// kept for replay in its own array (<see cref="ReplayBuffer.Adopt"/>, no copy), anything else is returned to the
    /// pool once written.
    /// </summary>
    public ValueTask WriteRentedAsync(byte[] rented, int length, CancellationToken cancellationToken = default) =>
        OnCurrentLinkAsync(rented.AsMemory(0, length), keep: true, rented, static (link, bytes, token) => link.WriteAsync(bytes, token), cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        OnCurrentLinkAsync(default, keep: false, rented: null, static (link, _, token) => new ValueTask(link.FlushAsync(token)), cancellationToken).AsTask();

    /// <summary>
    /// Runs a write-side operation on the current link, one at a time, after keeping <paramref name="bytes"/> for replay
    /// when <paramref name="keep"/>. While broken it does nothing more: the replay sends what was kept to the next link
    /// (the window bounds it). A failure of the link is a break, unless the stream cannot resume. <paramref name="rented"/>,
    /// when given, holds the bytes and goes back to <see cref="Chunk.Pool"/> at the end unless the replay adopted it.
    /// </summary>
    private async ValueTask OnCurrentLinkAsync(ReadOnlyMemory<byte> bytes, bool keep, byte[]? rented, Func<Stream, ReadOnlyMemory<byte>, CancellationToken, ValueTask> operation, CancellationToken cancellationToken)
    {
        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Stream? link;
                lock (_gate)
                {
                    if (_failure is not null) ExceptionDispatchInfo.Throw(_failure);
                    if (keep && _replay is not null)
                    {
                        if (rented is not null && ReplayBuffer.Adopts(rented, bytes.Length))
                        {
                            _replay.Adopt(rented, bytes.Length);
                            rented = null;
                        }
                        else _replay.Append(bytes.Span);
                    }
                    link = _current;
                }
                if (link is null) return;
                try
                {
                    await operation(link, bytes, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    if (!Break(link, ex)) throw;
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            if (rented is not null) Chunk.Pool.Return(rented);
        }
    }

    /// <summary>
    /// Gives the current link up although it has not failed (the peer went silent over it): a resumable stream then
    /// waits for a new link as after any break. False when the stream is not resumable, or finished.
    /// </summary>
    public bool Interrupt(Exception why)
    {
        Stream? link;
        lock (_gate) link = _current;
        return link is null ? _failure is null : Break(link, why);
    }

    /// <summary>
    /// <paramref name="link"/> failed: true when the stream now waits for a new link (or already did, or already
    /// moved on), false when the failure is final and the caller should report it.
    /// </summary>
    private bool Break(Stream link, Exception? error)
    {
        Action<Exception>? broken;
        lock (_gate)
        {
            if (!ReferenceEquals(_current, link)) return _failure is null;
            // Not resumable, or finished: the caller reports the failure (or the end of stream) as a plain stream would.
            if (_replay is null || _final) return false;
            _current = null;
            _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _brokenAt = _time.GetTimestamp();
            broken = Broken;
        }
        _graceTimer?.Dispose();
        _graceTimer = _time.CreateTimer(_ => Abandon($"the tunnel did not resume within {_grace.TotalSeconds:0.###} s"), null, _grace, Timeout.InfiniteTimeSpan);
        broken?.Invoke(error ?? new EndOfStreamException("the link ended"));
        return true;
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) StopResuming();
        base.Dispose(disposing);
    }
}

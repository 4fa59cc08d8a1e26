using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Akka.Streams;
using Akka.Streams.Stage;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Middle.Relay;

/// <summary>
/// Relays what one link sends to its peer, a read at a time (<see cref="LinkReads"/>): RELAY frames go to the peer
/// header and all, their payload never parsed and a large frame passed on in pieces as they arrive: written to the
/// peer's socket straight from the read's buffer when no TLS sits over it (<see cref="LinkOutput.Plain"/>; the
/// pieces of one read in as few writes as the buffer allows), or else copied into the peer's pipe. When neither link
/// has TLS at the middle, the rest of a large frame that the read did not hold is moved from socket to socket in the
/// kernel (<see cref="PayloadSplice"/>), and the link then reads in small blocks, so that a read holds a frame's
/// header and little more (<see cref="Links.LinkReadPool.Splicing"/>). Link-level frames are handled as the relay
/// loop handles them (<see cref="LinkHandler.HandleLinkFrame"/>). The peer's output lock is held from a RELAY header
/// to the frame's last byte, across reads, so nothing (a PONG, an ERROR, a REDIRECT) lands inside a frame; PONGs go
/// out only after it is released, so no stage holds two links' locks. The next read is pulled once the peer's pipe took this one (its flush is the backpressure).
/// </summary>
internal sealed class RelayFrames : GraphStage<SinkShape<LentRead>>
{
    private readonly RelaySide _side;

    /// <summary>One stage per side, shared by every tunnel (<see cref="TunnelRelay.Blueprint"/>).</summary>
    public RelayFrames(RelaySide side)
    {
        _side = side;
        Shape = new SinkShape<LentRead>(In);
    }

    public Inlet<LentRead> In { get; } = new("relay.frames");

    public override SinkShape<LentRead> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, TunnelRelay.Reading(inheritedAttributes, _side));

    /// <summary>What an unfinished wait resumes.</summary>
    private enum Waiting : byte
    {
        Nothing,
        PeerLock,
        Flush,
        Write,
        Reply,
        Splice,
    }

    private sealed class Logic : InGraphStageLogic
    {
        private readonly RelayFrames _stage;
        private readonly LentRead _read;
        private readonly LinkSession _from;
        private readonly MiddleOptions _options;
        private LinkOutput _to = null!;
        private bool _fromFirst;
        private IAsyncCallback<Logic>? _resumed;
        private Action? _resume;
        private Waiting _waiting;
        private ConfiguredTaskAwaitable.ConfiguredTaskAwaiter _lock;
        private ConfiguredValueTaskAwaitable<FlushResult>.ConfiguredValueTaskAwaiter _flush;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _send;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _write;

        /// <summary>What of the lent read goes to the peer's plain socket, adjacent pieces joined; written once the read is relayed.</summary>
        private readonly List<ReadOnlyMemory<byte>> _outgoing = [];

        /// <summary>How many of <see cref="_outgoing"/> are written.</summary>
        private int _written;

        /// <summary>What of the lent read is not yet relayed.</summary>
        private ReadOnlySequence<byte> _rest;

        /// <summary>Payload bytes of the current RELAY frame still to come (in this read or the next).</summary>
        private long _relayRemaining;

        /// <summary>This stage holds the peer's output lock (from a RELAY header to the frame's last byte).</summary>
        private bool _holding;

        /// <summary>Something went into the peer's pipe since its last flush.</summary>
        private bool _forwarded;

        private List<Message>? _replies;
        private int _replied;

        /// <summary>Moves large frames' payload in the kernel; made at the first such frame, null when it cannot be.</summary>
        private PayloadSplice? _splice;
        private bool _spliceAsked;

        public Logic(RelayFrames stage, LentRead read) : base(1, 0)
        {
            _stage = stage;
            _read = read;
            _from = _read.From;
            _options = _read.Node.Options;
            SetHandler(stage.In, this);
        }

        public override void PreStart()
        {
            _to = _from.Peer!.Output;
            _fromFirst = _from.Tunnel?.First == _from;
            Pull(_stage.In);
        }

        public override void OnPush()
        {
            _rest = Grab(_stage.In).Buffer;
            Relay();
        }

        /// <summary>Relays the lent read until it is all handled or a wait did not complete at once (it resumes here).</summary>
        private void Relay()
        {
            try
            {
                Span<byte> header = stackalloc byte[ProtocolLimits.HeaderSize];
                while (true)
                {
                    if (_relayRemaining > 0)
                    {
                        if (_rest.IsEmpty) break;
                        if (!_holding && !TakePeerLock()) return;
                        var take = Math.Min(_relayRemaining, _rest.Length);
                        if (!_to.Completed) Forward(_rest.Slice(0, take));
                        _relayRemaining -= take;
                        Interlocked.Add(ref _from.BytesIn, take);
                        _read.Node.Metrics.Relayed(take, _fromFirst);
                        _rest = _rest.Slice(take);
                        continue;
                    }
                    if (_rest.Length < ProtocolLimits.HeaderSize) break;
                    var frame = _rest.Slice(0, ProtocolLimits.HeaderSize);
                    frame.CopyTo(header);
                    if (header[0] == (byte)MessageType.Relay)
                    {
                        var length = FrameCodec.ReadLength(header);
                        if (length > _options.MaxFramePayload)
                        {
                            throw new ProtocolException(ErrorCode.FrameTooLarge, $"RELAY of {length} bytes exceeds this middle's limit of {_options.MaxFramePayload}");
                        }
                        // Nothing is consumed before the lock is held: a wait resumes at this header.
                        if (!_holding && !TakePeerLock()) return;
                        // A large frame is spliced past the read that holds its header: the next read need hold little more.
                        if (_from.ReadPool is { } pool) pool.Splicing = length >= PayloadSplice.Least && Splicer() is not null;
                        // A peer that has left gets nothing more; this link hears ERROR(PeerGone) and closes.
                        if (!_to.Completed) Forward(frame);
                        _relayRemaining = length;
                        _rest = _rest.Slice(ProtocolLimits.HeaderSize);
                        continue;
                    }
                    if (!MessageCodec.TryReadMessage(ref _rest, ProtocolLimits.MaxSetupPayload, out var message)) break;
                    LinkHandler.HandleLinkFrame(_from, message!, _replies ??= []);
                }
                // Send whatever was forwarded (written to the socket, or the pipe flushed), also the part of a frame that
                // continues in the next read.
                if (_forwarded)
                {
                    _forwarded = false;
                    if (_to.Plain is null)
                    {
                        if (!Flush()) return;
                    }
                    else if (SplicesNext() && _splice!.TryPrepend(_outgoing))
                    {
                        // The frame's head goes out with its spliced rest, in one piece.
                        _outgoing.Clear();
                    }
                    else if (!Write())
                    {
                        return;
                    }
                }
                Forwarded();
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }

        /// <summary>What the read held is with the peer: splice the rest of a large frame, or pull the next read.</summary>
        private void Forwarded()
        {
            if (SplicesNext()) Splice();
            else Relayed();
        }

        /// <summary>The read ended inside a large frame, and both links can splice: its rest goes through the kernel.</summary>
        private bool SplicesNext() =>
            _relayRemaining >= PayloadSplice.Least && _rest.IsEmpty && !_read.IsCompleted && _holding && !_to.Completed && Splicer() is not null;

        /// <summary>This direction's splice, if both links' sockets can do it (made once) and the kernel has not refused it since.</summary>
        private PayloadSplice? Splicer()
        {
            if (!_spliceAsked)
            {
                _spliceAsked = true;
                if (_from.Output.Plain is { } from && _to.Plain is { } to) _splice = PayloadSplice.Between(from, to, _options.IdleTimeout, _read.Node.Metrics);
            }
            return PayloadSplice.Refused ? null : _splice;
        }

        /// <summary>Moves the frame's payload in the kernel until it is done, the link's input ends, or a wait resumes here.</summary>
        private void Splice()
        {
            var outcome = _splice!.Move(ref _relayRemaining, _read.Idle.Token, Continuation(), out var taken);
            if (taken > 0)
            {
                Interlocked.Add(ref _from.BytesIn, taken);
                _read.Node.Metrics.Relayed(taken, _fromFirst);
                _read.Node.Metrics.Spliced(taken);
                _read.Idle.CancelAfter(_options.IdleTimeout);
            }
            if (outcome == PayloadSplice.Outcome.Waiting)
            {
                _waiting = Waiting.Splice;
                return;
            }
            // Done, or the input ended (the next read finds its end), or refused (the next read carries the payload).
            Relayed();
        }

        /// <summary>Passes <paramref name="bytes"/> (of the lent read) on to the peer: queued for its socket, or copied into its pipe.</summary>
        private void Forward(in ReadOnlySequence<byte> bytes)
        {
            _forwarded = true;
            if (_to.Plain is null)
            {
                LinkHandler.Forward(_to.Writer, bytes);
                return;
            }
            foreach (var piece in bytes)
            {
                if (piece.IsEmpty) continue;
                if (_outgoing.Count > 0 && TryJoin(_outgoing[^1], piece, out var joined)) _outgoing[^1] = joined;
                else _outgoing.Add(piece);
            }
        }

        /// <summary>One piece for two that lie next to each other in the same buffer (a header and its payload).</summary>
        private static bool TryJoin(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, out ReadOnlyMemory<byte> joined)
        {
            // Not a conditional expression: `adjacent ? memory : null` types as ReadOnlyMemory (null converts through
            // byte[]) and yields an empty piece, not "no join".
            if (MemoryMarshal.TryGetArray(first, out var a) && MemoryMarshal.TryGetArray(second, out var b)
                && a.Array == b.Array && a.Offset + a.Count == b.Offset)
            {
                joined = new ReadOnlyMemory<byte>(a.Array, a.Offset, a.Count + b.Count);
                return true;
            }
            joined = default;
            return false;
        }

        /// <summary>Flushes the peer's pipe; true when done now, false when the flush resumes <see cref="Relayed"/> later.</summary>
        private bool Flush()
        {
            _flush = _to.Writer.FlushAsync(_read.Idle.Token).ConfigureAwait(false).GetAwaiter();
            if (!_flush.IsCompleted)
            {
                _waiting = Waiting.Flush;
                _flush.UnsafeOnCompleted(Continuation());
                return false;
            }
            _flush.GetResult();
            return true;
        }

        /// <summary>
        /// Writes the queued pieces to the peer's socket, each write returning once all of it is sent; true when done
        /// now, false when a write resumes it later. Bounded by the idle timeout, as a flush is: a peer that stops
        /// reading gives up with KeepaliveTimeout.
        /// </summary>
        private bool Write()
        {
            while (_written < _outgoing.Count)
            {
                _write = _to.Plain!.WriteAsync(_outgoing[_written++], _read.Idle.Token).ConfigureAwait(false).GetAwaiter();
                if (!_write.IsCompleted)
                {
                    _waiting = Waiting.Write;
                    _write.UnsafeOnCompleted(Continuation());
                    return false;
                }
                _write.GetResult();
            }
            _outgoing.Clear();
            _written = 0;
            return true;
        }

        /// <summary>True when the peer's lock is held now; false when the wait resumes <see cref="Relay"/> later.</summary>
        private bool TakePeerLock()
        {
            _lock = _to.Lock.WaitAsync(_read.Idle.Token).ConfigureAwait(false).GetAwaiter();
            if (!_lock.IsCompleted)
            {
                _waiting = Waiting.PeerLock;
                _lock.UnsafeOnCompleted(Continuation());
                return false;
            }
            _lock.GetResult();
            _holding = true;
            return true;
        }

        /// <summary>The read is relayed and flushed: release the peer at a frame's end, answer, then pull the next read.</summary>
        private void Relayed()
        {
            // Keep the peer's output until the frame is complete: nothing (a PONG) may land inside it.
            if (_holding && _relayRemaining == 0)
            {
                _to.Lock.Release();
                _holding = false;
            }
            _read.Consumed = _rest.Start;
            // Answers go out after the peer's lock is released: never hold two links' locks at once.
            if (!_holding && _replies is { Count: > 0 } replies)
            {
                while (_replied < replies.Count)
                {
                    _send = _from.Output.SendAsync(replies[_replied++], _read.Idle.Token).ConfigureAwait(false).GetAwaiter();
                    if (!_send.IsCompleted)
                    {
                        _waiting = Waiting.Reply;
                        _send.UnsafeOnCompleted(Continuation());
                        return;
                    }
                    _send.GetResult();
                }
                replies.Clear();
                _replied = 0;
            }
            Pull(_stage.In);
        }

        /// <summary>
        /// What continues a wait that did not complete at once, made at the first such wait: an idle tunnel's waits all
        /// complete at once, and its stage then holds no callback. One for every wait after: no allocation per wait.
        /// </summary>
        private Action Continuation()
        {
            if (_resume is null)
            {
                _resumed = GetTypedAsyncCallback<Logic>(static logic => logic.Resume());
                _resume = () => _resumed.Invoke(this);
            }
            return _resume;
        }

        /// <summary>A wait completed (on the graph's thread): carry on where it left off.</summary>
        private void Resume()
        {
            var what = _waiting;
            _waiting = Waiting.Nothing;
            try
            {
                switch (what)
                {
                    case Waiting.PeerLock:
                        _lock.GetResult();
                        _holding = true;
                        Relay();
                        break;
                    case Waiting.Flush:
                        _flush.GetResult();
                        Forwarded();
                        break;
                    case Waiting.Write:
                        _write.GetResult();
                        if (Write()) Forwarded();
                        break;
                    case Waiting.Splice:
                        _splice!.Resumed();
                        Splice();
                        break;
                    case Waiting.Reply:
                        _send.GetResult();
                        Relayed();
                        break;
                }
            }
            catch (Exception ex)
            {
                Fail(ex);
            }
        }

        private void Fail(Exception error)
        {
            _read.Fail(error);
            FailStage(error);
        }

        public override void OnUpstreamFailure(Exception e)
        {
            _read.Fail(e);
            FailStage(e);
        }

        public override void PostStop()
        {
            _outgoing.Clear();
            _splice?.Release();
            if (_holding)
            {
                // Stopped inside a frame whose header the peer has: whatever came next would land in its payload.
                if (_relayRemaining > 0) _to.CutMidFrame = true;
                _holding = false;
                _to.Lock.Release();
            }
            _read.Stopped();
        }
    }
}

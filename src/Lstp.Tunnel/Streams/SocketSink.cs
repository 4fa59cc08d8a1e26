using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.Streams;
using Akka.Streams.Stage;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// Writes a stream of pooled <see cref="Chunk"/>s to a socket, one at a time, returning each array once written and
/// then reporting the chunk to <c>written</c> (the channel's flow control: what the application has taken). It pulls
/// the next chunk only when the socket took the last, so a slow application backpressures everything upstream.
/// When upstream completes it half-closes the socket (FIN) and completes its task; when upstream fails or the write
/// fails, the task fails and the socket is left for its owner to reset. A chunk whose bytes wait in a pipe
/// (<see cref="Chunk.InPipe"/>, a plaintext channel's bulk data) is moved from the pipe into the socket by splice(2).
/// Written by hand for the same reason as <see cref="SocketSource"/>: no copy into ByteStrings, no Akka.IO.
/// A graph built once and materialized many times gives <c>siteOf</c>, which finds each materialization's socket and
/// its <c>written</c> in the attributes it is materialized with. With <c>endsInline</c> the task's continuations run
/// on the stage's own thread as it ends (for a quick note of the end, not for awaiting: see ChannelGraphs).
/// </summary>
public sealed class SocketSink(Func<Attributes, (Socket Socket, Action<Chunk> Written)> siteOf, bool endsInline = false) : GraphStageWithMaterializedValue<SinkShape<Chunk>, Task>
{
    /// <summary>Writes to <paramref name="socket"/> in every materialization, reporting each chunk to <paramref name="written"/>.</summary>
    public SocketSink(Socket socket, Action<Chunk> written) : this(_ => (socket, written))
    {
    }

    public Inlet<Chunk> In { get; } = new("socket.in");

    public override SinkShape<Chunk> Shape => new(In);

    public override ILogicAndMaterializedValue<Task> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var done = new TaskCompletionSource(endsInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        var (socket, written) = siteOf(inheritedAttributes);
        return new LogicAndMaterializedValue<Task>(new Logic(this, socket, written, done), done.Task);
    }

    private sealed class Logic : InGraphStageLogic
    {
        private readonly SocketSink _stage;
        private readonly Socket _socket;
        private readonly Action<Chunk> _written;
        private readonly TaskCompletionSource _done;
        private readonly Action _onWriteCompleted;
        private Action<int>? _writeCompleted;
        private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _pending;
        private Chunk _writing;
        private bool _busy;
        private bool _upstreamDone;

        public Logic(SocketSink stage, Socket socket, Action<Chunk> written, TaskCompletionSource done) : base(stage.Shape)
        {
            _stage = stage;
            _socket = socket;
            _written = written;
            _done = done;
            _onWriteCompleted = () => _writeCompleted!(0);
            SetHandler(stage.In, this);
        }

        public override void PreStart()
        {
            _writeCompleted = GetAsyncCallback<int>(_ => Finish());
            Pull(_stage.In);
        }

        public override void OnPush()
        {
            _writing = Grab(_stage.In);
            if (_writing.Pipe is not null)
            {
                _pipeLeft = _writing.Count;
                WritePiped();
                return;
            }
            if (_writing.Count == 0)
            {
                Written();
                return;
            }
            _busy = true;
            try
            {
                // A stream socket's SendAsync completes only when every byte is handed to the kernel.
                _pending = _socket.SendAsync(_writing.Memory, SocketFlags.None).ConfigureAwait(false).GetAwaiter();
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            if (_pending.IsCompleted) Finish();
            else _pending.UnsafeOnCompleted(_onWriteCompleted);
        }

        private void Finish()
        {
            _busy = false;
            try
            {
                _pending.GetResult();
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            if (_writing.Pipe is not null) WritePiped();
            else Written();
        }

        /// <summary>What a wait for room in the socket takes out of a pipe and writes with a plain send.</summary>
        private const int RoomProbe = 16 * 1024;

        private int _pipeLeft;
        private byte[]? _probe;
        private bool _nonBlocking;

        /// <summary>
        /// Moves a piped chunk's bytes from its pipe into the socket (splice(2)) until they are all out, or the socket
        /// is full: then the head of the pipe goes out with a plain send, which waits for room as any send does (.NET
        /// has no wait for room alone), and the rest follows when it completes.
        /// </summary>
        private void WritePiped()
        {
            var lease = _writing.Pipe!;
            if (!lease.TryUse())
            {
                Fail(new ObjectDisposedException("the channel's pipe", "the channel ended while its data was being written"));
                return;
            }
            try
            {
                // A socket in blocking mode would block the stage in splice(2): it gets plain sends instead.
                if (!_nonBlocking) _nonBlocking = SocketSplice.NonBlocking(_socket);
                while (_pipeLeft > 0)
                {
                    var moved = _nonBlocking ? SocketSplice.ToSocket(lease.Pipe, _socket, _pipeLeft, more: false) : 0;
                    if (moved > 0)
                    {
                        _pipeLeft -= moved;
                        continue;
                    }
                    _probe ??= Chunk.Pool.Rent(RoomProbe);
                    var read = SocketSplice.Read(lease.Pipe, _probe.AsSpan(0, Math.Min(_pipeLeft, RoomProbe)));
                    _pipeLeft -= read;
                    _busy = true;
                    _pending = _socket.SendAsync(_probe.AsMemory(0, read), SocketFlags.None).ConfigureAwait(false).GetAwaiter();
                    if (!_pending.IsCompleted)
                    {
                        _pending.UnsafeOnCompleted(_onWriteCompleted);
                        return;
                    }
                    _busy = false;
                    _pending.GetResult();
                }
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            finally
            {
                lease.Done();
            }
            Written();
        }

        private void Written()
        {
            var chunk = _writing;
            _writing = default;
            chunk.Return();
            _written(chunk);
            if (_upstreamDone) HalfClose();
            else Pull(_stage.In);
        }

        public override void OnUpstreamFinish()
        {
            _upstreamDone = true;
            // A stage whose ports are all closed is stopped at once unless it asks to keep going: the last write must land first.
            if (_busy) SetKeepGoing(true);
            else HalfClose();
        }

        public override void OnUpstreamFailure(Exception e)
        {
            _done.TrySetException(e);
            FailStage(e);
        }

        private void HalfClose()
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            _done.TrySetResult();
            CompleteStage();
        }

        private void Fail(Exception ex)
        {
            _busy = false;
            _pipeLeft = 0;
            if (_writing.Buffer is not null) _writing.Return();
            _writing = default;
            _done.TrySetException(ex);
            FailStage(ex);
        }

        public override void PostStop()
        {
            // A send still pending may yet read the probe: then it is left to the collector, not given back.
            if (_probe is not null && !_busy) Chunk.Pool.Return(_probe);
            _probe = null;
            _done.TrySetException(new AbruptStageTerminationException(this));
        }
    }
}

using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.Streams;
using Akka.Streams.Stage;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// Reads a socket as a stream of pooled <see cref="Chunk"/>s, one read per pull, so the socket is read only as fast
/// as downstream takes what it gave (TCP's own window then holds the application back). Each array is rented with
/// <see cref="Headroom"/> bytes free in front of the data, so a frame header can be written in place without a copy.
/// The stream completes when the peer half-closes (a read of 0) and fails when the read fails.
/// Written by hand because Akka.IO's Tcp copies every read into a ByteString and costs per small element
/// (measured at 0.28× three socat relays); this reads straight into the array that travels on.
/// A graph built once and materialized many times (a channel's) gives the stage <c>socketOf</c>, which finds each
/// materialization's socket in the attributes it is materialized with, and may give it <c>readSizeOf</c>, which says
/// before each read how much it may take (at most <see cref="ChunkSize"/>; the array rented is sized to it).
/// </summary>
public sealed class SocketSource(Func<Attributes, Socket> socketOf, int headroom, int chunkSize, Func<Attributes, Func<int>>? readSizeOf = null) : GraphStage<SourceShape<Chunk>>
{
    /// <summary>Reads <paramref name="socket"/> in every materialization.</summary>
    public SocketSource(Socket socket, int headroom, int chunkSize) : this(_ => socket, headroom, chunkSize)
    {
    }

    public Outlet<Chunk> Out { get; } = new("socket.out");

    /// <summary>Bytes left free in front of each chunk's data.</summary>
    public int Headroom { get; } = headroom;

    /// <summary>The most bytes one read takes (and every read, unless the materialization says less).</summary>
    public int ChunkSize { get; } = chunkSize;

    public override SourceShape<Chunk> Shape => new(Out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, socketOf(inheritedAttributes), readSizeOf?.Invoke(inheritedAttributes));

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly SocketSource _stage;
        private readonly Socket _socket;
        private readonly Func<int>? _readSize;
        private readonly Action _onReadCompleted;
        private Action<int>? _readCompleted;
        private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _pending;
        private byte[]? _buffer;

        public Logic(SocketSource stage, Socket socket, Func<int>? readSize) : base(stage.Shape)
        {
            _stage = stage;
            _socket = socket;
            _readSize = readSize;
            // One delegate for every read that does not complete at once: no allocation per read.
            _onReadCompleted = () => _readCompleted!(0);
            SetHandler(stage.Out, this);
        }

        public override void PreStart() => _readCompleted = GetAsyncCallback<int>(_ => Finish());

        public override void OnPull()
        {
            var size = _readSize is null ? _stage.ChunkSize : Math.Clamp(_readSize(), 1, _stage.ChunkSize);
            _buffer = Chunk.Pool.Rent(_stage.Headroom + size);
            try
            {
                _pending = _socket.ReceiveAsync(_buffer.AsMemory(_stage.Headroom, size), SocketFlags.None).ConfigureAwait(false).GetAwaiter();
            }
            catch (Exception ex)
            {
                Chunk.Pool.Return(_buffer);
                _buffer = null;
                FailStage(ex);
                return;
            }
            if (_pending.IsCompleted) Finish();
            else _pending.UnsafeOnCompleted(_onReadCompleted);
        }

        /// <summary>The read is done (on the stage's own thread): push what it read, complete on 0, fail on an error.</summary>
        private void Finish()
        {
            var buffer = _buffer!;
            _buffer = null;
            int n;
            try
            {
                n = _pending.GetResult();
            }
            catch (Exception ex)
            {
                Chunk.Pool.Return(buffer);
                FailStage(ex);
                return;
            }
            if (n == 0)
            {
                Chunk.Pool.Return(buffer);
                CompleteStage();
                return;
            }
            Push(_stage.Out, new Chunk(buffer, _stage.Headroom, n));
        }
    }
}

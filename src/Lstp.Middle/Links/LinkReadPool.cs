using System.Buffers;

namespace Lstp.Middle.Links;

/// <summary>
/// What one link's input reads into: small blocks while the link sets up, waits or only carries keepalives, blocks
/// of <see cref="LinkListener.ReadSize"/> while it streams (a read that filled its block: <see cref="Read"/>).
/// Measured on this project's machine: 64 KiB blocks for every read cost an idle paired tunnel 67–78 KiB of middle
/// RSS against 47–58 for the Kestrel transport before (2,000 tunnels), while relaying in 16 KiB reads cost the
/// middle 1.7× the CPU per GiB of 64 KiB reads. The blocks are the shared array pool's; a block is returned when the
/// link's pipe has consumed it, so an idle link holds none (its pipe waits with a zero-byte read).
/// </summary>
public sealed class LinkReadPool : MemoryPool<byte>
{
    /// <summary>A setup frame or a keepalive fits many times over.</summary>
    public const int SetupBlockSize = 4 * 1024;

    private int _blockSize = SetupBlockSize;

    public override int MaxBufferSize => LinkListener.ReadSize;

    /// <summary>
    /// Set by the relay while the link sends frames whose payload it splices (<see cref="Relay.PayloadSplice"/>):
    /// reads stay small, so that a read holds the next frame's header and little of its payload, and the kernel
    /// moves the rest. Full-size reads would carry most of each frame through the middle's memory.
    /// </summary>
    public bool Splicing
    {
        get => Volatile.Read(ref _splicing);
        set
        {
            Volatile.Write(ref _splicing, value);
            if (value) Volatile.Write(ref _blockSize, SetupBlockSize);
        }
    }

    private bool _splicing;

    /// <summary>
    /// A read of <paramref name="length"/> bytes arrived: one that filled a small block means the link streams, and
    /// its next blocks are full-size (unless the relay splices); a small one (a keepalive, a lone frame) takes it back
    /// to small blocks.
    /// </summary>
    public void Read(long length)
    {
        var size = Volatile.Read(ref _blockSize);
        if (Splicing) Volatile.Write(ref _blockSize, SetupBlockSize);
        else if (length >= size && size < LinkListener.ReadSize) Volatile.Write(ref _blockSize, LinkListener.ReadSize);
        else if (length < SetupBlockSize && size > SetupBlockSize) Volatile.Write(ref _blockSize, SetupBlockSize);
    }

    /// <summary>A block of the current size, whatever the pipe asks (it reads into what it gets).</summary>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) =>
        new Block(ArrayPool<byte>.Shared.Rent(Math.Max(Volatile.Read(ref _blockSize), minBufferSize)));

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block(byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array) ArrayPool<byte>.Shared.Return(array);
        }
    }
}

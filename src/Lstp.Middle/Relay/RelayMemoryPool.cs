using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Lstp.Middle.Relay;

/// <summary>
/// The memory Kestrel's socket transport reads links into. Kestrel's default pool hands out 4 KiB blocks, so a
/// relaying middle made one receive call per 4 KiB (bench/RESULTS.md measured ~514 syscalls per MiB against ~35
/// for socat). Blocks of 64 KiB let one receive take what a loopback or LAN socket has ready, which is the
/// "near-copy loop" the middle's data path is meant to be. Idle links hold no block: Kestrel waits for data
/// before it asks for memory, so idle tunnels cost nothing here.
/// </summary>
public sealed class RelayMemoryPool : MemoryPool<byte>
{
    /// <summary>64 KiB: one loopback read, matching the ends' SERVICE_DATA chunk.</summary>
    public const int BlockSize = 64 * 1024;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize) throw new ArgumentOutOfRangeException(nameof(minBufferSize), $"at most {BlockSize} bytes per block");
        return new Block(ArrayPool<byte>.Shared.Rent(BlockSize));
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block(byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            var array = Interlocked.Exchange(ref _array, null);
            if (array is not null) ArrayPool<byte>.Shared.Return(array);
        }
    }
}

/// <summary>Gives Kestrel <see cref="RelayMemoryPool"/>s (registered in the middle's host in place of the default factory).</summary>
public sealed class RelayMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new RelayMemoryPool();
}

using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Lstp.Middle.Relay;

/// <summary>
/// The memory Kestrel's socket transport reads links into. Kestrel's default pool hands out 4 KiB blocks, so a
/// relaying middle made one receive call per 4 KiB (bench/RESULTS.md measured ~514 syscalls per MiB against ~35
/// for socat). Larger blocks let one receive take what the socket has ready. A link's input pipe keeps its last
/// block between reads, so the block size is also what an idle link holds. Measured on this project's
/// machine (iperf3 1 stream --plaintext; middle RSS per idle paired tunnel, 1,000 tunnels): 4 KiB 5.6 Gbit/s,
/// 29 KiB; 16 KiB 6.7 Gbit/s, 39 KiB; 64 KiB 6.8 Gbit/s, 85 KiB. 16 KiB keeps nearly all the throughput and
/// stays under the 64 KiB-per-idle-tunnel budget.
/// </summary>
public sealed class RelayMemoryPool : MemoryPool<byte>
{
    /// <summary>16 KiB: see the type's summary for the measurement behind it.</summary>
    public const int BlockSize = 16 * 1024;

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

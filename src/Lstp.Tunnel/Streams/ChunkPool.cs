using System.Buffers;
using System.Numerics;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// The pool behind <see cref="Chunk.Pool"/>: arrays of 64, 128 and 256 KiB (a data path's reads, frames and lent
/// payloads) from pools that keep many of them, every other size from <see cref="ArrayPool{T}.Shared"/>. A resumable
/// tunnel keeps its large frames' arrays until the peer acknowledges them (up to its 32 MiB window), so they come back
/// in bursts after being out for a while; the shared pool keeps a few dozen arrays of a size and drops the rest, and
/// with it a streaming end allocated its frames afresh (RSS 285 MiB instead of 155). Written here because the runtime's
/// other pool (<see cref="ArrayPool{T}.Create(int, int)"/>) hands out a larger array when a size runs out (a 64 KiB
/// read in a 256 KiB array), which would hold memory for nothing: each size here has a pool of its own whose largest
/// size it is, so nothing larger is ever handed out. Only what was once out at the same time is ever kept.
/// </summary>
internal sealed class ChunkPool : ArrayPool<byte>
{
    private const int SmallestShift = 16; // 64 KiB
    private const int LargestShift = 18; // 256 KiB

    /// <summary>
    /// Per size, how many arrays are kept: a 32 MiB window of 64 KiB frames, a few dozen 128 KiB ones (a compressed
    /// frame's output, never kept for replay), a window of 256 KiB frames and the reads in flight beside it.
    /// </summary>
    private static readonly int[] Kept = [528, 64, 144];

    private readonly ArrayPool<byte>[] _bySize = [.. Enumerable.Range(0, Kept.Length).Select(i => Create(1 << (SmallestShift + i), Kept[i]))];

    public static ChunkPool Instance { get; } = new();

    /// <summary>A pool of its own (tests); the data path uses <see cref="Instance"/>.</summary>
    internal ChunkPool() { }

    public override byte[] Rent(int minimumLength) =>
        SizeOf(minimumLength) is { } size ? _bySize[size].Rent(minimumLength) : Shared.Rent(minimumLength);

    public override void Return(byte[] array, bool clearArray = false)
    {
        // Only an array of exactly one of our sizes is ours; anything else was rented from the shared pool.
        if (BitOperations.IsPow2(array.Length) && SizeOf(array.Length) is { } size) _bySize[size].Return(array, clearArray);
        else Shared.Return(array, clearArray);
    }

    /// <summary>Which of our pools serves <paramref name="length"/> bytes (the smallest size that holds them), if any.</summary>
    private static int? SizeOf(int length)
    {
        if (length <= 1 << (SmallestShift - 1) || length > 1 << LargestShift) return null;
        return BitOperations.Log2((uint)length - 1) + 1 - SmallestShift;
    }
}

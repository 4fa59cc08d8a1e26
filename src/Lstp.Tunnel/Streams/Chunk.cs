using System.Buffers;

namespace Lstp.Tunnel.Streams;

/// <summary>
/// One element of a byte stream: <see cref="Count"/> bytes at <see cref="Offset"/> in an array rented from
/// <see cref="Pool"/>. Akka.Streams costs per element, so elements are whole socket reads (up to 256 KiB) and their
/// arrays are pooled; whoever consumes a chunk returns its array. <see cref="Counted"/> is what flow control counted
/// for it (a compressed frame's declared length, or more), 0 when nothing counts it. A chunk with a
/// <see cref="Pipe"/> has no array: its <see cref="Count"/> bytes are next in that pipe (<see cref="InPipe"/>).
/// </summary>
public readonly record struct Chunk(byte[] Buffer, int Offset, int Count, long Counted = 0, PipeLease? Pipe = null)
{
    /// <summary><paramref name="count"/> bytes waiting in a channel's pipe, counted by flow control as <paramref name="count"/>.</summary>
    public static Chunk InPipe(PipeLease pipe, int count) => new([], 0, count, count, pipe);

    /// <summary>Where every tunnel's data path rents its arrays (<see cref="ChunkPool"/>).</summary>
    public static ArrayPool<byte> Pool => ChunkPool.Instance;

    public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(Offset, Count);

    public Span<byte> Span => Buffer.AsSpan(Offset, Count);

    public void Return()
    {
        if (Pipe is null) Pool.Return(Buffer);
    }
}

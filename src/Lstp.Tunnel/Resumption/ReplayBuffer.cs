using System.Buffers;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Resumption;

/// <summary>
/// The bytes of a tunnel's end-to-end stream that this end sent and the peer has not yet acknowledged, kept to be
/// sent again after a resume. Stream offsets count from the first byte after the handshake. Held in pooled
/// segments, returned as acknowledgements arrive; the sender's window bounds how much it holds. An idle tunnel's
/// keepalive and acknowledgements take a small segment (a few always wait for the peer's next acknowledgement), a
/// busy one 64 KiB segments. A large data frame is not copied at all: its own array becomes a segment (<see cref="Adopt"/>).
/// </summary>
internal sealed class ReplayBuffer
{
    private const int SmallSegment = 512;
    private const int LargeSegment = 64 * 1024;

    /// <summary>
    /// Segments shared by every tunnel of the process. The shared ArrayPool keeps only a few arrays of a size per core,
    /// so a busy tunnel's window (up to 512 segments) would otherwise allocate most of them afresh and leave them to the
    /// GC: measured, that cost ~70 MiB of RSS on a streaming end. This pool keeps up to 33 MiB of them for reuse (one
    /// full window and a little).
    /// </summary>
    private static readonly ArrayPool<byte> Segments = ArrayPool<byte>.Create(LargeSegment, 528);
    private readonly List<Segment> _segments = [];

    /// <summary>
    /// A frame this large, filling at least half of its array, is kept by reference (<see cref="Adopt"/>) instead of
    /// copied: a bulk stream's frames are 64 or 256 KiB reads, each in an array of its own size, so the replay then
    /// costs no copy and at most twice what it holds. The copy was 7 % of a plaintext sending end's CPU (perf).
    /// </summary>
    public const int AdoptFrom = 32 * 1024;

    /// <summary>True when <see cref="Adopt"/> may keep <paramref name="array"/> holding <paramref name="length"/> bytes.</summary>
    public static bool Adopts(byte[] array, int length) => length >= AdoptFrom && length >= array.Length / 2;

    /// <summary>Stream offset of the first byte kept: everything before it was acknowledged.</summary>
    public long Start { get; private set; }

    /// <summary>Stream offset after the last byte sent.</summary>
    public long End { get; private set; }

    public long Held => End - Start;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var last = _segments.Count > 0 ? _segments[^1] : null;
            if (last is null || last.Full)
            {
                last = new Segment(Segments.Rent(bytes.Length <= SmallSegment && Held < 8 * SmallSegment ? SmallSegment : LargeSegment));
                _segments.Add(last);
            }
            var take = Math.Min(bytes.Length, last.Array.Length - last.End);
            ReplayCopy.Copy(bytes[..take], last.Array.AsSpan(last.End, take));
            last.End += take;
            bytes = bytes[take..];
            End += take;
        }
    }

    /// <summary>
    /// Keeps the first <paramref name="length"/> bytes of <paramref name="array"/> themselves: the buffer owns the
    /// array from now on and returns it to <see cref="Chunk.Pool"/> (where it was rented) once the peer has
    /// acknowledged it. Nothing may write to it meanwhile; only <see cref="Adopts"/> arrays are taken.
    /// </summary>
    public void Adopt(byte[] array, int length)
    {
        if (!Adopts(array, length)) throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes in an array of {array.Length} are copied, not adopted");
        _segments.Add(new Segment(array, adopted: true) { End = length });
        End += length;
    }

    /// <summary>Forgets everything before <paramref name="offset"/> (the peer has it).</summary>
    public void Trim(long offset)
    {
        if (offset <= Start) return;
        if (offset > End) throw new ArgumentOutOfRangeException(nameof(offset), $"offset {offset} is past the end of what was sent ({End})");
        var drop = offset - Start;
        Start = offset;
        while (drop > 0)
        {
            var first = _segments[0];
            var take = (int)Math.Min(drop, first.End - first.Start);
            first.Start += take;
            drop -= take;
            if (first.Start == first.End) Release(0);
        }
        if (Held == 0) Clear();
    }

    /// <summary>The bytes from <paramref name="offset"/> to the end, in order.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> From(long offset)
    {
        if (offset < Start || offset > End) throw new ArgumentOutOfRangeException(nameof(offset), $"offset {offset} is outside what is kept ({Start}..{End})");
        var skip = offset - Start;
        foreach (var segment in _segments)
        {
            var length = segment.End - segment.Start;
            if (skip >= length)
            {
                skip -= length;
                continue;
            }
            yield return segment.Array.AsMemory(segment.Start + (int)skip, length - (int)skip);
            skip = 0;
        }
    }

    /// <summary>
    /// Forgets everything kept and returns the segments to their pools; with <paramref name="toPools"/> false leaves them
    /// to the GC instead, for when a write on a link given up may still be reading one.
    /// </summary>
    public void Clear(bool toPools = true)
    {
        while (_segments.Count > 0) Release(0, toPools);
        Start = End;
    }

    private void Release(int index, bool toPool = true)
    {
        var segment = _segments[index];
        _segments.RemoveAt(index);
        if (!toPool) return;
        if (segment.Adopted) Chunk.Pool.Return(segment.Array);
        else Segments.Return(segment.Array);
    }

    private sealed class Segment(byte[] array, bool adopted = false)
    {
        public byte[] Array { get; } = array;
        /// <summary>A frame's own array (<see cref="Adopt"/>), from <see cref="Chunk.Pool"/>; nothing is appended to it.</summary>
        public bool Adopted { get; } = adopted;
        public int Start { get; set; }
        public int End { get; set; }
        public bool Full => Adopted || End == Array.Length;
    }
}

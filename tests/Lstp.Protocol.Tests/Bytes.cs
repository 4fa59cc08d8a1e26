using System.Buffers;
using System.Globalization;

namespace Lstp.Protocol.Tests;

/// <summary>Small helpers for writing byte-level tests: hex in and out, and sequences split into segments.</summary>
public static class Bytes
{
    /// <summary>Space-separated lowercase hex, the format of the spec's vector table.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => string.Join(' ', bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>Parses hex with any whitespace between bytes.</summary>
    public static byte[] FromHex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    public static ReadOnlySequence<byte> Sequence(byte[] bytes) => new(bytes);

    /// <summary>The same bytes as a sequence of several segments, split at <paramref name="cuts"/> (ascending offsets).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var bounds = cuts.Where(c => c > 0 && c < bytes.Length).Distinct().Order().Append(bytes.Length).ToArray();
        Segment? first = null, last = null;
        var start = 0;
        foreach (var end in bounds)
        {
            var piece = bytes.AsMemory(start, end - start);
            if (first is null) first = last = new Segment(piece, 0);
            else last = last!.Append(piece);
            start = end;
        }
        if (first is null) return ReadOnlySequence<byte>.Empty;
        return new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

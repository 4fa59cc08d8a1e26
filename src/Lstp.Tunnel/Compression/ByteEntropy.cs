namespace Lstp.Tunnel.Compression;

/// <summary>
/// A cheap look at whether bytes could compress at all: the order-0 (byte histogram) entropy of a sample. Data at
/// more than <see cref="CompressionLimits.IncompressibleBits"/> bits per byte (encrypted, already compressed, random)
/// cannot shrink by <see cref="CompressionLimits.PoorRatio"/> through Huffman coding, and has no repeated strings
/// for LZ77 to find unless it repeats whole blocks. Deflating 1 KiB of such data costs about 30 µs and a fresh
/// compressor per channel; counting it costs about 1 µs. Written by hand: the codecs offer no such estimate.
/// </summary>
public static class ByteEntropy
{
    /// <summary>Frames longer than this are sampled: <see cref="Runs"/> runs of <see cref="RunLength"/> bytes spread over the frame.</summary>
    private const int Whole = 4096;
    private const int Runs = 16;
    private const int RunLength = Whole / Runs;

    /// <summary>True when the sample's entropy is above <see cref="CompressionLimits.IncompressibleBits"/> bits per byte.</summary>
    public static bool LooksIncompressible(ReadOnlySpan<byte> data) => BitsPerByte(data) > CompressionLimits.IncompressibleBits;

    /// <summary>The sample's order-0 entropy in bits per byte (0 for no data).</summary>
    public static double BitsPerByte(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return 0;
        Span<int> counts = stackalloc int[256];
        int sampled;
        if (data.Length <= Whole)
        {
            foreach (var b in data) counts[b]++;
            sampled = data.Length;
        }
        else
        {
            var stride = (data.Length - RunLength) / (Runs - 1);
            for (var run = 0; run < Runs; run++)
            {
                foreach (var b in data.Slice(run * stride, RunLength)) counts[b]++;
            }
            sampled = Runs * RunLength;
        }
        // H = log2(n) - (1/n) Σ c·log2(c)
        double sum = 0;
        foreach (var c in counts)
        {
            if (c > 1) sum += c * Math.Log2(c);
        }
        return Math.Log2(sampled) - sum / sampled;
    }
}

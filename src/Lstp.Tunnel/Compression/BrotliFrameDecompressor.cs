using System.Buffers;
using System.IO.Compression;

namespace Lstp.Tunnel.Compression;

/// <summary>Brotli decoding of one direction, refusing windows over <see cref="CompressionLimits.MaxBrotliWindowBits"/> bits so its memory stays bounded.</summary>
public sealed class BrotliFrameDecompressor : FrameDecompressor
{
    private BrotliDecoder _decoder;
    private bool _headerChecked;
    private bool _finished;

    public override int Decompress(ReadOnlyMemory<byte> input, Span<byte> output)
    {
        if (input.IsEmpty) return 0;
        if (_finished) throw Malformed("data after the end of the Brotli stream");
        var span = input.Span;
        if (!_headerChecked)
        {
            var bits = WindowBits(span[0]);
            if (bits is null or > CompressionLimits.MaxBrotliWindowBits) throw Malformed($"the Brotli stream asks for a {(bits is { } b ? $"2^{b}-byte" : "large")} window; at most 2^{CompressionLimits.MaxBrotliWindowBits} is accepted");
            _headerChecked = true;
        }
        var status = _decoder.Decompress(span, output, out var consumed, out var written);
        switch (status)
        {
            case OperationStatus.NeedMoreData when consumed == span.Length:
                return written;
            case OperationStatus.Done when consumed == span.Length:
                _finished = true;
                return written;
            case OperationStatus.Done:
                throw Malformed("data after the end of the Brotli stream");
            case OperationStatus.DestinationTooSmall:
                throw Malformed($"the frame decompresses to more than {output.Length} bytes");
            default:
                throw Malformed("not a valid Brotli stream");
        }
    }

    /// <summary>
    /// The window size a Brotli stream announces in its first bits (RFC 7932 §9.1, read from bit 0 up): 0 → 16;
    /// else the next 3 bits n ≠ 0 → 17 + n; else the next 3 bits m ≠ 0 → 8 + m, with m = 1 the large-window
    /// extension (null here); m = 0 → 17.
    /// </summary>
    public static int? WindowBits(byte first)
    {
        if ((first & 1) == 0) return 16;
        var n = (first >> 1) & 7;
        if (n != 0) return 17 + n;
        var m = (first >> 4) & 7;
        if (m == 1) return null;
        return m == 0 ? 17 : 8 + m;
    }

    public override void Dispose() => _decoder.Dispose();
}

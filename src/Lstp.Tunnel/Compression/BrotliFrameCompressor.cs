using System.Buffers;
using System.IO.Compression;

namespace Lstp.Tunnel.Compression;

/// <summary>Brotli at <see cref="CompressionLimits.BrotliQuality"/> with a <see cref="CompressionLimits.BrotliWindowBits"/>-bit window, flushed per frame.</summary>
public sealed class BrotliFrameCompressor : FrameCompressor
{
    private BrotliEncoder _encoder = new(CompressionLimits.BrotliQuality, CompressionLimits.BrotliWindowBits);

    public override int Compress(ReadOnlySpan<byte> input, Memory<byte> output)
    {
        var span = output.Span;
        var status = _encoder.Compress(input, span, out var consumed, out var written, isFinalBlock: false);
        if (status != OperationStatus.Done || consumed != input.Length) return -1;
        // A flush ends the meta-block on a byte boundary with everything so far decodable (RFC 7932 §9.2).
        status = _encoder.Flush(span[written..], out var flushed);
        return status == OperationStatus.Done ? written + flushed : -1;
    }

    public override void Dispose() => _encoder.Dispose();
}

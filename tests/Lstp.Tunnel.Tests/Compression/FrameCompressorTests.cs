using System.IO.Compression;
using Lstp.Protocol;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Xunit;

namespace Lstp.Tunnel.Tests.Compression;

/// <summary>The Brotli and Deflate frame codecs: a flush per frame, history across frames, and a receiver that cannot be made to expand without bound.</summary>
public sealed class FrameCompressorTests
{
    private const int Chunk = ProtocolLimits.ServiceDataChunk;

    public static TheoryData<CompressionMethod> Methods() => new(CompressionMethod.Brotli, CompressionMethod.Deflate);

    [Theory]
    [MemberData(nameof(Methods))]
    public void Each_frame_decompresses_on_its_own_so_a_small_write_never_waits_for_the_next(CompressionMethod method)
    {
        using var compressor = FrameCompressor.Create(method);
        using var decompressor = FrameDecompressor.Create(method);
        var output = new byte[4096];
        var back = new byte[Chunk];
        foreach (var line in Lines(200))
        {
            // The receiver sees only this frame: everything in it must come out now.
            var n = compressor.Compress(line, output);
            Assert.InRange(n, 1, output.Length);
            var m = decompressor.Decompress(output.AsMemory(0, n), back);
            Assert.Equal(line, back[..m]);
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void History_carries_over_from_frame_to_frame(CompressionMethod method)
    {
        using var compressor = FrameCompressor.Create(method);
        var text = Corpora.Text(4096);
        var output = new byte[8192];

        var first = compressor.Compress(text, output);
        var second = compressor.Compress(text, output);

        Assert.True(second * 4 < first, $"the repeat took {second} bytes after {first}: the window was not kept");
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Text_random_and_already_compressed_data_round_trip_in_64KiB_frames(CompressionMethod method)
    {
        foreach (var data in new[] { Corpora.Text(1 << 20), Corpora.Random(1 << 20), Corpora.Gzipped(1 << 20) })
        {
            using var compressor = FrameCompressor.Create(method);
            using var decompressor = FrameDecompressor.Create(method);
            var output = new byte[2 * Chunk];
            var back = new byte[Chunk];
            var result = new MemoryStream();
            foreach (var frame in Corpora.Frames(data))
            {
                var n = compressor.Compress(frame.Span, output);
                result.Write(back, 0, decompressor.Decompress(output.AsMemory(0, n), back));
            }
            Assert.True(data.AsSpan().SequenceEqual(result.ToArray()));
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Disposing_a_compressor_writes_nothing_into_the_last_frames_buffer(CompressionMethod method)
    {
        // Regression: DeflateStream writes its final block on Dispose, and it used to land in the buffer of the
        // last frame, which the channel had already returned to the pool for another frame to use.
        var compressor = FrameCompressor.Create(method);
        var output = new byte[4096];
        Assert.True(compressor.Compress(Corpora.Text(2000), output) > 0);
        Array.Fill(output, (byte)0x5a);

        compressor.Dispose();

        Assert.All(output, b => Assert.Equal(0x5a, b));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Output_that_does_not_fit_is_reported_as_minus_one(CompressionMethod method)
    {
        using var compressor = FrameCompressor.Create(method);
        var random = Corpora.Random(Chunk);

        Assert.Equal(-1, compressor.Compress(random, new byte[Chunk - 2]));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_frame_that_decompresses_to_more_than_64KiB_is_malformed(CompressionMethod method)
    {
        // 1 MiB of zeros in one frame is a few KiB: a decompression bomb for a 64 KiB frame.
        using var compressor = FrameCompressor.Create(method);
        var output = new byte[Chunk];
        var n = compressor.Compress(new byte[1 << 20], output);
        Assert.InRange(n, 1, Chunk - 1);

        using var decompressor = FrameDecompressor.Create(method);
        var ex = Assert.Throws<ProtocolException>(() => decompressor.Decompress(output.AsMemory(0, n), new byte[Chunk]));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains("more than 65536 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Bytes_that_are_not_a_compressed_stream_are_malformed(CompressionMethod method)
    {
        using var decompressor = FrameDecompressor.Create(method);
        byte[] garbage = [0x10, 0xff, 0xfe, 0xfd, 0x00, 0x13, 0x37, 0xff, 0xff, 0xff, 0xff, 0xff];
        if (method == CompressionMethod.Deflate) garbage[0] = 0xff; // block type 3 is reserved

        var ex = Assert.Throws<ProtocolException>(() => decompressor.Decompress(garbage, new byte[Chunk]));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Data_after_the_end_of_a_stream_is_malformed(CompressionMethod method)
    {
        // Senders here never end a stream; a peer that does and sends on has sent bytes nobody can read.
        var ended = method == CompressionMethod.Brotli ? FinishedBrotli("hello"u8) : FinishedDeflate("hello"u8);
        using var decompressor = FrameDecompressor.Create(method);
        Assert.Equal(5, decompressor.Decompress(ended, new byte[Chunk]));

        var ex = Assert.Throws<ProtocolException>(() => decompressor.Decompress(ended, new byte[Chunk]));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Theory]
    [InlineData(19)]
    [InlineData(22)]
    [InlineData(24)]
    public void A_brotli_stream_asking_for_a_window_over_256KiB_is_malformed_before_any_memory_is_taken(int bits)
    {
        using var encoder = new BrotliEncoder(5, bits);
        var output = new byte[Chunk];
        encoder.Compress(Corpora.Text(1000), output, out _, out var written, isFinalBlock: false);
        encoder.Flush(output.AsSpan(written), out var flushed);
        using var decompressor = new BrotliFrameDecompressor();

        var ex = Assert.Throws<ProtocolException>(() => decompressor.Decompress(output.AsMemory(0, written + flushed), new byte[Chunk]));

        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains($"2^{bits}-byte window", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x10, 16)]
    [InlineData(0x83, 18)]
    [InlineData(0x8b, 22)]
    [InlineData(0x8f, 24)]
    [InlineData(0x01, 17)]
    [InlineData(0x21, 10)]
    [InlineData(0x71, 15)]
    public void Brotli_window_bits_are_read_from_the_stream_header(byte first, int bits)
    {
        Assert.Equal(bits, BrotliFrameDecompressor.WindowBits(first));
    }

    [Fact]
    public void The_large_window_extension_is_not_a_window_this_build_reads()
    {
        Assert.Null(BrotliFrameDecompressor.WindowBits(0x11));
    }

    [Fact]
    public void This_builds_brotli_streams_announce_the_window_the_limits_promise()
    {
        using var compressor = new BrotliFrameCompressor();
        var output = new byte[256];
        Assert.True(compressor.Compress(Corpora.Text(200), output) > 0);

        Assert.Equal(CompressionLimits.BrotliWindowBits, BrotliFrameDecompressor.WindowBits(output[0]));
    }

    private static IEnumerable<byte[]> Lines(int count)
    {
        var text = Corpora.Text(count * 120);
        for (var i = 0; i < count; i++) yield return text[(i * 120)..((i + 1) * 120)];
    }

    private static byte[] FinishedBrotli(ReadOnlySpan<byte> data)
    {
        using var encoder = new BrotliEncoder(CompressionLimits.BrotliQuality, CompressionLimits.BrotliWindowBits);
        var output = new byte[256];
        encoder.Compress(data, output, out _, out var written, isFinalBlock: true);
        return output[..written];
    }

    private static byte[] FinishedDeflate(ReadOnlySpan<byte> data)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true)) deflate.Write(data);
        return output.ToArray();
    }
}

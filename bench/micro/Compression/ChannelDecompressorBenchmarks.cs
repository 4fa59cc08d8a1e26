using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Compression;

namespace Lstp.Bench.Micro.Compression;

/// <summary>
/// The receiving half (<see cref="ChannelDecompressor"/>): the downlink decompresses each SERVICE_DATA_COMPRESSED
/// record just before writing it to the application. One invocation decompresses a 4 MiB text stream, compressed
/// once in setup as a channel sends it (64 KiB frames, each flushed, the first starting a new stream); per frame.
/// </summary>
[MemoryDiagnoser]
public class ChannelDecompressorBenchmarks
{
    private const int FramesPerInvoke = 64;

    private readonly byte[] _output = new byte[Payloads.Frame];
    private (CompressedFlags Flags, byte[] Data)[] _frames = [];
    private ChannelDecompressor _decompressor = null!;

    [Params(CompressionMethod.Deflate, CompressionMethod.Brotli)]
    public CompressionMethod Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var text = Payloads.Text(FramesPerInvoke * Payloads.Frame);
        using var compressor = new ChannelCompressor(Codec, CompressMode.On);
        var compressed = new byte[Payloads.Frame];
        _frames = new (CompressedFlags, byte[])[FramesPerInvoke];
        for (var i = 0; i < FramesPerInvoke; i++)
        {
            if (!compressor.TryCompress(text.AsSpan(i * Payloads.Frame, Payloads.Frame), compressed, out var written, out var flags)) throw new InvalidOperationException("text did not compress");
            _frames[i] = (flags, compressed[..written]);
        }
        _decompressor = new ChannelDecompressor(Codec);
    }

    [GlobalCleanup]
    public void Cleanup() => _decompressor.Dispose();

    [Benchmark(OperationsPerInvoke = FramesPerInvoke, Description = "decompress a text frame")]
    [ProcessesBytes(Payloads.Frame)]
    public int Decompress_text()
    {
        var total = 0;
        foreach (var (flags, data) in _frames) total += _decompressor.Decompress(flags, data, _output);
        return total;
    }
}

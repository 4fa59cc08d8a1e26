using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Tunnel.Compression;

namespace Lstp.Bench.Micro.Compression;

/// <summary>
/// The sending half of a channel's compression (<see cref="ChannelCompressor"/>) deciding frame by frame, per
/// 64 KiB frame: in <c>auto</c> (the default) on text, which it compresses; on random bytes (TLS, gzip) during the
/// first four frames, which its entropy look (<see cref="ByteEntropy"/>) judges poor without compressing them, after
/// which it gives up; and on random bytes once it has given up, probing again after 1, 2, 4 … 64 MiB. <c>on</c> never
/// gives up: each random frame is compressed, does not fit, and restarts the compressor.
/// </summary>
[MemoryDiagnoser]
public class ChannelCompressorBenchmarks
{
    /// <summary>Distinct text frames the steady benchmark cycles through, so no frame repeats within a window.</summary>
    private const int TextFrames = 16;

    /// <summary>Frames until auto gives up on incompressible data (<see cref="CompressionLimits.AbandonAfter"/>).</summary>
    private const int FramesToGiveUp = CompressionLimits.AbandonAfter;

    private readonly byte[] _output = new byte[Payloads.Frame];
    private byte[][] _text = [];
    private byte[] _random = [];
    private ChannelCompressor _textAuto = null!;
    private ChannelCompressor _randomAuto = null!;
    private ChannelCompressor _randomOn = null!;
    private int _next;

    [Params(CompressionMethod.Deflate, CompressionMethod.Brotli)]
    public CompressionMethod Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var text = Payloads.Text(TextFrames * Payloads.Frame);
        _text = [.. Enumerable.Range(0, TextFrames).Select(i => text[(i * Payloads.Frame)..((i + 1) * Payloads.Frame)])];
        _random = Payloads.Random(Payloads.Frame);
        _textAuto = new ChannelCompressor(Codec, CompressMode.Auto);
        _randomAuto = new ChannelCompressor(Codec, CompressMode.Auto);
        for (var i = 0; i < FramesToGiveUp; i++) _randomAuto.TryCompress(_random, _output, out _, out _);
        if (!_randomAuto.IsAbandoned) throw new InvalidOperationException("auto did not give up on random bytes");
        _randomOn = new ChannelCompressor(Codec, CompressMode.On);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _textAuto.Dispose();
        _randomAuto.Dispose();
        _randomOn.Dispose();
    }

    [Benchmark(Description = "auto, text frame (compressed)")]
    [ProcessesBytes(Payloads.Frame)]
    public int Auto_compresses_text()
    {
        _textAuto.TryCompress(_text[_next++ % TextFrames], _output, out var written, out _);
        return written;
    }

    /// <summary>A fresh channel's first four random frames, compressor created and dropped included; per frame.</summary>
    [Benchmark(OperationsPerInvoke = FramesToGiveUp, Description = "auto, random: first 4 frames (gives up)")]
    [ProcessesBytes(Payloads.Frame)]
    public bool Auto_gives_up_on_random()
    {
        using var compressor = new ChannelCompressor(Codec, CompressMode.Auto);
        for (var i = 0; i < FramesToGiveUp; i++) compressor.TryCompress(_random, _output, out _, out _);
        return compressor.IsAbandoned;
    }

    [Benchmark(Description = "auto, random: after giving up (probes included)")]
    [ProcessesBytes(Payloads.Frame)]
    public bool Auto_after_giving_up_on_random() => _randomAuto.TryCompress(_random, _output, out _, out _);

    [Benchmark(Description = "on, random frame (compressed, then sent raw)")]
    [ProcessesBytes(Payloads.Frame)]
    public bool On_random() => _randomOn.TryCompress(_random, _output, out _, out _);
}

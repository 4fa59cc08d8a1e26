#:property PublishAot=false
// The compressors alone, on this machine: ratio, CPU speed and state size for the candidates the product
// chose between (src/Lstp.Tunnel/Compression/CompressionLimits.cs). Run by run.sh as
//   dotnet run -c Release codecs.cs -- REPO_ROOT
// Speed is CPU time (the machine is shared), on 16 MiB of text cut in 64 KiB frames each flushed, as a channel
// sends a bulk transfer; "lines" is the ratio on 125-byte lines each flushed, as interactive traffic goes.
using System.Diagnostics;
using System.IO.Compression;

var root = args.Length > 0 ? args[0] : "../..";
var seed = new MemoryStream();
foreach (var file in Directory.GetFiles("/usr/share/common-licenses").Order()) seed.Write(File.ReadAllBytes(file));
foreach (var file in Directory.GetFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/")).Order()) seed.Write(File.ReadAllBytes(file));
var text = new byte[16 << 20];
for (var offset = 0; offset < text.Length; offset += (int)seed.Length) seed.ToArray().AsSpan(0, Math.Min((int)seed.Length, text.Length - offset)).CopyTo(text.AsSpan(offset));
var random = new byte[16 << 20];
new Random(7).NextBytes(random);
const int Frame = 64 * 1024;
const int Line = 125;

Console.WriteLine("| codec | text, 64 KiB frames | lines of 125 B | random | text speed (CPU) | encoder state | decoder state |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var (quality, window) in new[] { (1, 18), (2, 16), (3, 16), (3, 18), (4, 16) })
{
    Func<IFrame> make = () => new BrotliFrame(quality, window);
    Row($"Brotli q{quality}, 2^{window} window{(quality == 3 && window == 16 ? " (`br`, second choice)" : "")}", make, () => new BrotliDecoderState());
}
foreach (var level in new[] { 1, 3, 6 })
{
    Row($"Deflate level {level}{(level == 3 ? " (`deflate`, first choice)" : "")}", () => new DeflateFrame(level), () => new DeflateDecoderState());
}

void Row(string name, Func<IFrame> make, Func<IDecoderState> decoder)
{
    var output = new byte[2 * Frame];
    double Ratio(byte[] data, int frame, out double seconds)
    {
        using var codec = make();
        long total = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var offset = 0; offset + frame <= data.Length; offset += frame) total += codec.Compress(data.AsSpan(offset, frame), output);
        seconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        return (double)total / (data.Length / frame * frame);
    }
    var bulk = Ratio(text, Frame, out var seconds);
    var lines = Ratio(text.AsSpan(0, 2 << 20).ToArray(), Line, out _);
    var noise = Ratio(random, Frame, out _);
    Console.WriteLine($"| {name} | {bulk:0.000} | {lines:0.000} | {noise:0.000} | {text.Length / seconds / 1e6:0} MB/s | {Resident(() => { var c = make(); for (var i = 0; i < 16; i++) c.Compress(text.AsSpan(i * Frame, Frame), output); return c; }) / 1024} KiB | {Resident(() => { var d = decoder(); d.Feed(make, text); return d; }) / 1024} KiB |");
}

// Resident memory per instance: 100 of them alive at once, measured as the process's working set.
static long Resident(Func<object> create)
{
    GC.Collect();
    GC.WaitForPendingFinalizers();
    var before = Process.GetCurrentProcess().WorkingSet64;
    var alive = new List<object>();
    for (var i = 0; i < 100; i++) alive.Add(create());
    GC.Collect();
    var after = Process.GetCurrentProcess().WorkingSet64;
    foreach (var item in alive) (item as IDisposable)?.Dispose();
    return Math.Max(0, (after - before) / 100);
}

interface IFrame : IDisposable
{
    int Compress(ReadOnlySpan<byte> input, byte[] output);
}

interface IDecoderState
{
    void Feed(Func<IFrame> make, byte[] text);
}

sealed class BrotliFrame(int quality, int window) : IFrame
{
    private BrotliEncoder _encoder = new(quality, window);

    public int Compress(ReadOnlySpan<byte> input, byte[] output)
    {
        _encoder.Compress(input, output, out _, out var written, isFinalBlock: false);
        _encoder.Flush(output.AsSpan(written), out var flushed);
        return written + flushed;
    }

    public void Dispose() => _encoder.Dispose();
}

sealed class DeflateFrame(int level) : IFrame
{
    private readonly MemoryStream _sink = new();
    private readonly int _level = level;
    private DeflateStream Deflate => _stream ??= new DeflateStream(_sink, new ZLibCompressionOptions { CompressionLevel = _level }, leaveOpen: true);
    private DeflateStream? _stream;

    public int Compress(ReadOnlySpan<byte> input, byte[] output)
    {
        _sink.SetLength(0);
        Deflate.Write(input);
        Deflate.Flush();
        _sink.GetBuffer().AsSpan(0, (int)_sink.Length).CopyTo(output);
        return (int)_sink.Length;
    }

    public void Dispose() => _stream?.Dispose();
}

sealed class BrotliDecoderState : IDecoderState, IDisposable
{
    private BrotliDecoder _decoder;

    public void Feed(Func<IFrame> make, byte[] text)
    {
        using var codec = make();
        var frame = new byte[2 * 64 * 1024];
        var back = new byte[64 * 1024];
        for (var i = 0; i < 16; i++)
        {
            var n = codec.Compress(text.AsSpan(i * 64 * 1024, 64 * 1024), frame);
            _decoder.Decompress(frame.AsSpan(0, n), back, out _, out _);
        }
    }

    public void Dispose() => _decoder.Dispose();
}

sealed class DeflateDecoderState : IDecoderState, IDisposable
{
    private readonly MemoryStream _source = new();
    private DeflateStream? _inflate;

    public void Feed(Func<IFrame> make, byte[] text)
    {
        using var codec = make();
        var frame = new byte[2 * 64 * 1024];
        var back = new byte[64 * 1024];
        _inflate = new DeflateStream(_source, CompressionMode.Decompress, leaveOpen: true);
        for (var i = 0; i < 16; i++)
        {
            var n = codec.Compress(text.AsSpan(i * 64 * 1024, 64 * 1024), frame);
            _source.SetLength(0);
            _source.Write(frame, 0, n);
            _source.Position = 0;
            while (_inflate.Read(back) > 0) { }
        }
    }

    public void Dispose() => _inflate?.Dispose();
}

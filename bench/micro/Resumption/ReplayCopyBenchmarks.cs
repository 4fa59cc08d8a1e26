using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Tunnel.Resumption;

namespace Lstp.Bench.Micro.Resumption;

/// <summary>
/// What a sending end pays to keep each 64 KiB it sends for a resume (<see cref="ReplayCopy"/>): a copy into the next
/// of 512 segments of 64 KiB, 32 MiB, as a streaming tunnel's replay cycles through its window, so that, as in an end,
/// the segment written was last touched 32 MiB of stores ago. The ordinary copy (the runtime's) against the replay's
/// non-temporal one.
/// </summary>
[MemoryDiagnoser]
public class ReplayCopyBenchmarks
{
    private const int Segment = 64 * 1024;
    private const int Ring = 512;
    private const int CopiesPerInvoke = 64;

    private readonly byte[] _frame = Payloads.Random(Payloads.Frame);
    private readonly byte[][] _segments = Enumerable.Range(0, Ring).Select(_ => new byte[Segment]).ToArray();
    private int _next;

    [Benchmark(Baseline = true, OperationsPerInvoke = CopiesPerInvoke, Description = "Span.CopyTo into a 32 MiB ring")]
    [ProcessesBytes(Payloads.Frame)]
    public byte Ordinary()
    {
        for (var i = 0; i < CopiesPerInvoke; i++) _frame.AsSpan().CopyTo(NextSegment());
        return _segments[_next][0];
    }

    [Benchmark(OperationsPerInvoke = CopiesPerInvoke, Description = "ReplayCopy.Copy into a 32 MiB ring")]
    [ProcessesBytes(Payloads.Frame)]
    public byte NonTemporal()
    {
        for (var i = 0; i < CopiesPerInvoke; i++) ReplayCopy.Copy(_frame, NextSegment());
        return _segments[_next][0];
    }

    private Span<byte> NextSegment()
    {
        _next = (_next + 1) % Ring;
        return _segments[_next];
    }
}

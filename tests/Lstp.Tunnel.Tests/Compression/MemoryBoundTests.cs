using System.Diagnostics;
using Lstp.Testing.Compression;
using Lstp.Tunnel.Compression;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Tunnel.Tests.Compression;

[CollectionDefinition(nameof(MemoryBoundTests), DisableParallelization = true)]
public sealed class MemoryMeasurements;

/// <summary>What compressing channels cost in memory, measured as the process's resident size (so it runs alone).</summary>
[Collection(nameof(MemoryBoundTests))]
public sealed class MemoryBoundTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(CompressionMethod.Brotli)]
    [InlineData(CompressionMethod.Deflate)]
    public void A_compressing_channel_holds_under_1MiB_of_compression_state_however_much_it_carries(CompressionMethod method)
    {
        const int Channels = 64;
        var text = Corpora.Text(2 << 20);
        var wires = new List<Wire>();
        var before = Resident();
        for (var i = 0; i < Channels; i++)
        {
            var wire = new Wire(method, CompressMode.On, keep: false);
            // 2 MiB each, far more than any window: the state must stop growing at the window.
            wire.SendAll(text);
            wires.Add(wire);
        }
        // Less the test's own two 64 KiB buffers per wire: what is left is the codecs' state.
        var grown = Resident() - before - Channels * Wire.BufferBytes;
        output.WriteLine($"{method}: {grown / Channels / 1024} KiB per channel (compressor and decompressor)");
        Assert.All(wires, w => Assert.True(w.Sender.HoldsState && w.Receiver.HoldsState));
        foreach (var wire in wires) wire.Dispose();
        Assert.InRange(grown, long.MinValue, Channels * (1L << 20));
    }

    private static long Resident()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}

using System.Buffers;
using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;

namespace Lstp.Bench.Micro.Framing;

/// <summary>
/// The per-frame work of the codec on the data path: the 8-byte SERVICE_DATA prefix the uplink writes in front of
/// every 64 KiB read, the 13-byte SERVICE_DATA_COMPRESSED prefix, and parsing one whole frame's header out of a buffer.
/// </summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly byte[] _prefix = new byte[FrameCodec.ServiceDataCompressedPrefix];
    private byte[] _serviceDataFrame = [];

    [GlobalSetup]
    public void Setup() => _serviceDataFrame = Payloads.ServiceDataFrames(1, Payloads.Frame, Payloads.Random(Payloads.Frame));

    [Benchmark(Description = "WriteServiceDataPrefix")]
    public byte Write_service_data_prefix()
    {
        FrameCodec.WriteServiceDataPrefix(_prefix, channel: 7, Payloads.Frame);
        return _prefix[7];
    }

    [Benchmark(Description = "WriteServiceDataCompressedPrefix")]
    public byte Write_service_data_compressed_prefix()
    {
        FrameCodec.WriteServiceDataCompressedPrefix(_prefix, channel: 7, CompressedFlags.None, Payloads.Frame, dataLength: 16_000);
        return _prefix[12];
    }

    /// <summary>Header checks (known type, length under the limit) and slicing the payload of one 64 KiB SERVICE_DATA.</summary>
    [Benchmark(Description = "TryReadFrame: 64 KiB SERVICE_DATA")]
    public long Try_read_service_data_frame()
    {
        var buffer = new ReadOnlySequence<byte>(_serviceDataFrame);
        FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out _, out var payload);
        return payload.Length;
    }
}

using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol;
using Lstp.Tunnel.Link;

namespace Lstp.Bench.Micro.Link;

/// <summary>
/// The receiving end's read loop over its end-to-end stream, as the tunnel's reader drives
/// <see cref="FrameStreamReader"/> for every frame: the header, the 4-byte channel id, then the 64 KiB of
/// application bytes into the channel's (pooled) array. The stream always has bytes, so this is the reader's CPU
/// cost per frame, the ceiling of one receiving core. The baseline copies the same bytes straight from the stream.
/// </summary>
[MemoryDiagnoser]
public class FrameStreamReaderBenchmarks
{
    /// <summary>Frames per invocation: 4 MiB of SERVICE_DATA, the times below are per frame.</summary>
    private const int FramesPerInvoke = 64;

    private readonly byte[] _channelId = new byte[4];
    private readonly byte[] _destination = new byte[Payloads.Frame];
    private LoopingStream _dataLink = null!;
    private FrameStreamReader _dataReader = null!;
    private LoopingStream _rawLink = null!;

    [GlobalSetup]
    public void Setup()
    {
        var data = Payloads.Random(Payloads.Frame);
        _dataLink = new LoopingStream(Payloads.ServiceDataFrames(FramesPerInvoke, Payloads.Frame, data));
        _dataReader = new FrameStreamReader(_dataLink);
        _rawLink = new LoopingStream(Payloads.ServiceDataFrames(FramesPerInvoke, Payloads.Frame, data));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = FramesPerInvoke, Description = "Stream.Read of 64 KiB (one copy, no framing)")]
    [ProcessesBytes(Payloads.Frame)]
    public int Copy_from_the_stream()
    {
        var total = 0;
        for (var i = 0; i < FramesPerInvoke; i++)
        {
            for (var got = 0; got < Payloads.Frame;) got += _rawLink.Read(_destination.AsSpan(got));
            total += _destination.Length;
        }
        return total;
    }

    [Benchmark(OperationsPerInvoke = FramesPerInvoke, Description = "64 KiB SERVICE_DATA: header, channel id, payload")]
    [ProcessesBytes(Payloads.Frame)]
    public async ValueTask<int> Read_service_data_frames()
    {
        var total = 0;
        for (var i = 0; i < FramesPerInvoke; i++)
        {
            var (_, length) = (await _dataReader.ReadHeaderAsync(ProtocolLimits.DefaultMaxPayload, CancellationToken.None))!.Value;
            for (var got = 0; got < 4;) got += await _dataReader.ReadPayloadAsync(_channelId.AsMemory(got), 4 - got, CancellationToken.None);
            var data = length - 4;
            for (var got = 0; got < data;) got += await _dataReader.ReadPayloadAsync(_destination.AsMemory(got), data - got, CancellationToken.None);
            total += data;
        }
        return total;
    }
}

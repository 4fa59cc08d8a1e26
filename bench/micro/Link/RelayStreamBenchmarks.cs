using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Tunnel.Link;

namespace Lstp.Bench.Micro.Link;

/// <summary>
/// An end's link to its middle (<see cref="RelayStream"/>): writes of whole SERVICE_DATA frames coalesced into
/// 256 KiB RELAY frames, and reads of 64 KiB out of arriving 256 KiB RELAY frames. The link is in memory and always
/// ready, so this is the framing's CPU cost per 64 KiB of application data, the share of a core the link takes
/// before TLS and sockets.
/// </summary>
[MemoryDiagnoser]
public class RelayStreamBenchmarks
{
    /// <summary>Frames per invocation: 1 MiB, what the tunnel's writer queues at most (TunnelWriter.DataCredits).</summary>
    private const int FramesPerWrite = 16;

    /// <summary>64 KiB reads per invocation: 4 MiB, sixteen RELAY frames.</summary>
    private const int ReadsPerInvoke = 64;

    private readonly byte[] _serviceDataFrame = Payloads.ServiceDataFrames(1, Payloads.Frame, Payloads.Random(Payloads.Frame));
    private readonly byte[] _readBuffer = new byte[Payloads.Frame];
    private RelayStream _sending = null!;
    private RelayStream _receiving = null!;

    [GlobalSetup]
    public void Setup()
    {
        var time = new StillTime();
        _sending = new RelayStream(Stream.Null, new FrameStreamReader(Stream.Null), LinkTimings.Default, time);
        var relayFrames = Payloads.Frames(MessageType.Relay, ReadsPerInvoke * Payloads.Frame / RelayStream.MaxRelayPayload, Payloads.Random(RelayStream.MaxRelayPayload));
        var link = new LoopingStream(relayFrames);
        _receiving = new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, time);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sending.Dispose();
        _receiving.Dispose();
    }

    /// <summary>What the tunnel's writer does under load: 16 SERVICE_DATA frames (64 KiB + 8) written, then a flush.</summary>
    [Benchmark(OperationsPerInvoke = FramesPerWrite, Description = "WriteAsync 16 SERVICE_DATA frames, FlushAsync")]
    [ProcessesBytes(Payloads.Frame)]
    public async ValueTask<long> Write_service_data_into_relay_frames()
    {
        for (var i = 0; i < FramesPerWrite; i++) await _sending.WriteAsync(_serviceDataFrame);
        await _sending.FlushAsync();
        return _sending.BytesSent;
    }

    [Benchmark(OperationsPerInvoke = ReadsPerInvoke, Description = "ReadAsync 64 KiB from 256 KiB RELAY frames")]
    [ProcessesBytes(Payloads.Frame)]
    public async ValueTask<int> Read_relay_payload()
    {
        const int Total = ReadsPerInvoke * Payloads.Frame;
        var total = 0;
        while (total < Total) total += await _receiving.ReadAsync(_readBuffer.AsMemory(0, Math.Min(Payloads.Frame, Total - total)));
        return total;
    }
}

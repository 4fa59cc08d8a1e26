using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;

namespace Lstp.Bench.Micro.Framing;

/// <summary>
/// Encoding and decoding the control messages a channel lives by: SERVICE_BEGIN_REQUEST once per channel (the
/// channel-open rate of bench/opens), SERVICE_DATA_PAUSE each time a slow application's buffer crosses its threshold;
/// and reading PAUSE frames off a stream whole, as the tunnel's reader takes PAUSE, RESUME and FREE.
/// </summary>
[MemoryDiagnoser]
public class ControlMessageBenchmarks
{
    private static readonly ServiceBeginRequest Begin = new(Channel: 7, TargetKind.Service, "orders-db", Port: 5432);
    private static readonly ServiceDataPause Pause = new(Channel: 7);
    private byte[] _beginPayload = [];
    private byte[] _pausePayload = [];
    private FrameStreamReader _pauseReader = null!;

    /// <summary>PAUSE frames per invocation of the stream benchmark; its time is per frame.</summary>
    private const int PausesPerInvoke = 64;

    [GlobalSetup]
    public void Setup()
    {
        _beginPayload = Begin.ToFrame()[ProtocolLimits.HeaderSize..];
        _pausePayload = Pause.ToFrame()[ProtocolLimits.HeaderSize..];
        _pauseReader = new FrameStreamReader(new LoopingStream(Payloads.Frames(MessageType.ServiceDataPause, PausesPerInvoke, _pausePayload)));
    }

    [Benchmark(Description = "Encode SERVICE_BEGIN_REQUEST")]
    public byte[] Encode_service_begin_request() => Begin.ToFrame();

    [Benchmark(Description = "Encode SERVICE_DATA_PAUSE")]
    public byte[] Encode_service_data_pause() => Pause.ToFrame();

    [Benchmark(Description = "Decode SERVICE_BEGIN_REQUEST")]
    public Message Decode_service_begin_request() => MessageCodec.Decode(MessageType.ServiceBeginRequest, _beginPayload);

    [Benchmark(Description = "Decode SERVICE_DATA_PAUSE")]
    public Message Decode_service_data_pause() => MessageCodec.Decode(MessageType.ServiceDataPause, _pausePayload);

    [Benchmark(OperationsPerInvoke = PausesPerInvoke, Description = "FrameStreamReader.ReadMessageAsync: SERVICE_DATA_PAUSE")]
    public async ValueTask<uint> Read_pause_frames()
    {
        uint channels = 0;
        for (var i = 0; i < PausesPerInvoke; i++)
        {
            var message = await _pauseReader.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, CancellationToken.None);
            channels += ((ServiceDataPause)message!).Channel;
        }
        return channels;
    }
}

using BenchmarkDotNet.Attributes;
using Lstp.Bench.Micro.Support;
using Lstp.Tunnel.Channels;

namespace Lstp.Bench.Micro.Channels;

/// <summary>
/// Receive-side flow control of one channel (<see cref="ChannelFlowControl"/>), called twice per 64 KiB SERVICE_DATA:
/// by the tunnel's reader when the frame arrives (OnReceived) and by the downlink when the application took it
/// (OnDrained). With the product's thresholds (1 MiB pause, 256 KiB resume); the signal only counts, where the
/// product's queues a control frame (its cost: ControlMessageBenchmarks, "Encode SERVICE_DATA_PAUSE").
/// </summary>
[MemoryDiagnoser]
public class ChannelFlowControlBenchmarks
{
    /// <summary>Frames per invocation of the pause/resume cycle: 16 × 64 KiB reach the 1 MiB pause threshold.</summary>
    private const int FramesPerCycle = 16;

    private ChannelFlowControl _flow = null!;
    private int _signals;

    [GlobalSetup]
    public void Setup() => _flow = new ChannelFlowControl(FlowThresholds.Default.Pause, FlowThresholds.Default.Resume, _ => _signals++);

    /// <summary>An application that keeps up: each frame drained as it arrives, no signal.</summary>
    [Benchmark(Description = "OnReceived + OnDrained of one 64 KiB frame")]
    public bool Receive_and_drain_a_frame()
    {
        var paused = _flow.OnReceived(Payloads.Frame);
        return _flow.OnDrained(Payloads.Frame) | paused;
    }

    /// <summary>A slow application: 16 frames arrive (PAUSE at 1 MiB), then it drains them (RESUME at 256 KiB); per frame.</summary>
    [Benchmark(OperationsPerInvoke = FramesPerCycle, Description = "16 frames in (PAUSE), 16 out (RESUME), per frame")]
    public int Pause_and_resume_cycle()
    {
        for (var i = 0; i < FramesPerCycle; i++) _flow.OnReceived(Payloads.Frame);
        for (var i = 0; i < FramesPerCycle; i++) _flow.OnDrained(Payloads.Frame);
        return _signals;
    }
}

using BenchmarkDotNet.Attributes;
using Lstp.Tunnel.Channels;

namespace Lstp.Bench.Micro.Channels;

/// <summary>
/// Send-side flow control (<see cref="PauseGate"/>): the uplink waits on the gate before every SERVICE_DATA it sends,
/// so the open gate is on the hot path; a PAUSE then RESUME from the peer closes and opens it, waking the uplink.
/// The token is cancellable, as the channel's stopping token is.
/// </summary>
[MemoryDiagnoser]
public class PauseGateBenchmarks
{
    private readonly PauseGate _open = new();
    private readonly PauseGate _cycled = new();
    private readonly CancellationTokenSource _stopping = new();

    [GlobalCleanup]
    public void Cleanup() => _stopping.Dispose();

    [Benchmark(Description = "WaitOpenAsync on an open gate (per frame sent)")]
    public bool Wait_on_an_open_gate() => _open.WaitOpenAsync(_stopping.Token).IsCompletedSuccessfully;

    /// <summary>PAUSE arrives, the uplink waits, RESUME arrives: the wait completes (on the thread pool, as in the product).</summary>
    [Benchmark(Description = "Pause, WaitOpenAsync, Resume, await")]
    public async Task Pause_wait_resume()
    {
        _cycled.Pause();
        var waiting = _cycled.WaitOpenAsync(_stopping.Token);
        _cycled.Resume();
        await waiting;
    }
}

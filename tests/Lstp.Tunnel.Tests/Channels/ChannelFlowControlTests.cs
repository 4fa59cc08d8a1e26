using Lstp.Protocol;
using Lstp.Tunnel.Channels;
using Xunit;

namespace Lstp.Tunnel.Tests.Channels;

/// <summary>Receive-side flow control: thresholds, and PAUSE/RESUME signalled in the order they were decided.</summary>
public sealed class ChannelFlowControlTests
{
    [Fact]
    public void Pauses_once_at_the_pause_threshold_and_resumes_once_at_the_resume_threshold()
    {
        var signals = new List<bool>();
        var flow = new ChannelFlowControl(1000, 250, signals.Add);

        Assert.False(flow.OnReceived(999));
        Assert.True(flow.OnReceived(1));
        Assert.False(flow.OnReceived(500)); // already paused: no second PAUSE
        Assert.False(flow.OnDrained(1000)); // 500 left, above the resume threshold
        Assert.True(flow.OnDrained(250));
        Assert.False(flow.OnDrained(250));

        Assert.Equal([true, false], signals);
        Assert.Throws<InvalidOperationException>(() => flow.OnDrained(1));
    }

    [Fact]
    public void A_peer_that_ignores_PAUSE_is_cut_at_the_ceiling_instead_of_growing_memory()
    {
        var signals = new List<bool>();
        var flow = new ChannelFlowControl(1000, 250, signals.Add, ceiling: 5000);

        Assert.True(flow.OnReceived(1000));
        Assert.False(flow.OnReceived(4000)); // in flight when PAUSE left: still within the ceiling
        var cut = Assert.Throws<ProtocolException>(() => flow.OnReceived(1));

        Assert.Equal(ErrorCode.FlowControl, cut.Code);
        Assert.Equal([true], signals);
    }

    [Fact]
    public void The_default_ceiling_leaves_room_for_what_a_path_holds_in_flight()
    {
        var flow = new ChannelFlowControl(FlowThresholds.Default.Pause, FlowThresholds.Default.Resume);

        Assert.Equal(FlowThresholds.Default.Pause + ChannelFlowControl.DefaultCeilingAbovePause, flow.Ceiling);
        flow.OnReceived(flow.Ceiling);
        Assert.Throws<ProtocolException>(() => flow.OnReceived(1));
    }

    [Fact]
    public async Task Signals_from_the_reader_and_the_downlink_alternate_and_the_last_one_is_the_state()
    {
        // The tunnel's reader counts arriving bytes on one thread while the downlink drains on another. A RESUME
        // decided just after a PAUSE must not be queued before it: the peer would stay paused for good.
        for (var round = 0; round < 50; round++)
        {
            var signals = new List<bool>();
            // This reader ignores PAUSE on purpose (it only races the drain), so no ceiling applies.
            var flow = new ChannelFlowControl(64 * 1024, 16 * 1024, signals.Add, ceiling: long.MaxValue);
            long available = 0;
            var received = 0L;
            var done = false;
            var reader = Task.Run(() =>
            {
                var random = new Random(round);
                for (var i = 0; i < 20_000; i++)
                {
                    var n = 1 + random.Next(8 * 1024);
                    flow.OnReceived(n); // counted before it is made available, as ServiceChannel does
                    Interlocked.Add(ref available, n);
                    received += n;
                }
                Volatile.Write(ref done, true);
            });
            var downlink = Task.Run(() =>
            {
                while (!Volatile.Read(ref done) || Interlocked.Read(ref available) > 0)
                {
                    var take = Interlocked.Exchange(ref available, 0);
                    if (take > 0) flow.OnDrained(take);
                }
            });
            await Task.WhenAll(reader, downlink);

            Assert.Equal(0, flow.Buffered);
            Assert.False(flow.IsPaused);
            for (var i = 0; i < signals.Count; i++) Assert.Equal(i % 2 == 0, signals[i]);
            Assert.True(signals.Count == 0 || !signals[^1], "the last signal left the peer paused");
        }
    }
}

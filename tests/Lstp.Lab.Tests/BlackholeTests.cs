using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>A path that goes silent without FIN or RST (nft drop): noticed within 45 s, replaced, and nothing leaks meanwhile.</summary>
[Collection(LabCollection.Name)]
public sealed class BlackholeTests(LabFixture lab, ITestOutputHelper output)
{
    /// <summary>Issue 4: "a path that goes silent without a FIN or RST (a blackhole) is detected within 45 s".</summary>
    private static readonly TimeSpan DetectionBound = TimeSpan.FromSeconds(45);

    /// <summary>After the path is back: reconnect backoff (at most 30 s ±50 %) plus a dial; generous on a busy machine.</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(120);

    private const long MiB = 1024 * 1024;

    [Fact]
    public Task With_resumption_off_blackholing_corp_B_mid_transfer_is_detected_within_45_s_the_tunnel_recovers_and_memory_stays_bounded() =>
        LabScenario.RunAsync(lab, output, nameof(With_resumption_off_blackholing_corp_B_mid_transfer_is_detected_within_45_s_the_tunnel_recovers_and_memory_stays_bounded), async s =>
        {
            var (m1, m2) = await s.StartMiddlesAsync();
            await s.StartEchoServiceAsync();
            // Resumption off: the dead tunnel is let go as soon as it is noticed, and its connections reset.
            string[] noResume = ["--resume-grace", "0"];
            var endA = s.StartServerEnd(extra: noResume);
            var endB = s.StartClientEnd(extra: noResume);
            var lstp = new[] { m1, m2, endA, endB };
            await s.WaitForTunnelAsync(endA, TimeSpan.FromSeconds(60));
            await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(60));

            // Warm up (JIT, pools, TLS buffers) so the baseline is a working process, not a fresh one.
            var warmup = await s.TransferAsync(8 * MiB, TimeSpan.FromSeconds(120), "warmup");
            Assert.True(warmup.Ok, $"the tunnel did not work before the blackhole: {warmup.Error}");
            await Task.Delay(2000);
            var before = s.SampleRss(lstp);
            s.Say("RSS before: " + Describe(before));

            var inFlight = s.StartTransfer(1024 * MiB, 2 * MiB, TimeSpan.FromSeconds(300), "in-flight");
            await inFlight.WaitForLineAsync(new(@"^progress \d+ [1-9]"), TimeSpan.FromSeconds(30), "the in-flight transfer moving");

            var blackholeAt = DateTimeOffset.UtcNow;
            await Run.LabAsync("blackhole", "corpb", "on");
            s.Say("corp B blackholed (nft drop between its proxy and the internet), mid-transfer");

            var lostB = await endB.WaitForLineAsync(LabScenario.TunnelLost(), DetectionBound + TimeSpan.FromSeconds(30), "end B noticing the dead path", blackholeAt);
            var lostA = await endA.WaitForLineAsync(LabScenario.TunnelLost(), DetectionBound + TimeSpan.FromSeconds(30), "end A noticing its silent peer", blackholeAt);
            var detectB = lostB.At - blackholeAt;
            var detectA = lostA.At - blackholeAt;
            s.Say($"end B detected the blackhole after {detectB.TotalSeconds:0.0} s: {lostB.Text}");
            s.Say($"end A detected the blackhole after {detectA.TotalSeconds:0.0} s: {lostA.Text}");
            LabScenario.Record("blackhole-times.txt", string.Create(CultureInfo.InvariantCulture,
                $"{blackholeAt:yyyy-MM-ddTHH:mm:ssZ} blackhole corpb: end B detected after {detectB.TotalSeconds:0.0} s, end A after {detectA.TotalSeconds:0.0} s"));
            Assert.True(detectB <= DetectionBound, $"end B took {detectB.TotalSeconds:0.0} s to notice the blackhole");
            Assert.True(detectA <= DetectionBound, $"end A took {detectA.TotalSeconds:0.0} s to notice the blackhole");

            // Noticing is not enough: each end must let go of the dead tunnel and start over (the supervisor's "tunnel down").
            var downB = await endB.WaitForLineAsync(LabScenario.TunnelDown(), Remaining(lostB.At + TimeSpan.FromSeconds(15)),
                "end B to let go of its dead tunnel and reconnect, within 15 s of noticing", blackholeAt);
            var downA = await endA.WaitForLineAsync(LabScenario.TunnelDown(), Remaining(lostA.At + TimeSpan.FromSeconds(15)),
                "end A to let go of its dead tunnel and reconnect, within 15 s of noticing", blackholeAt);
            s.Say($"end B reconnecting {(downB.At - blackholeAt).TotalSeconds:0.0} s after the blackhole: {downB.Text}");
            s.Say($"end A reconnecting {(downA.At - blackholeAt).TotalSeconds:0.0} s after the blackhole: {downA.Text}");

            // The application's connection on the dead path is closed, not left hanging (its own timeout is 300 s).
            Assert.True(await inFlight.WaitForExitAsync(Remaining(blackholeAt + DetectionBound + TimeSpan.FromSeconds(15))),
                $"the in-flight connection still hangs {(DateTimeOffset.UtcNow - blackholeAt).TotalSeconds:0} s after the blackhole:\n{inFlight.Tail(5)}");
            var cut = LabScenario.LastResult(inFlight);
            s.Say($"the in-flight transfer ended after {(DateTimeOffset.UtcNow - blackholeAt).TotalSeconds:0.0} s: received {cut.Received / MiB} MiB; {cut.Error}");
            Assert.False(cut.Ok);
            Assert.DoesNotContain("timed out", cut.Error ?? "");

            // Stay dark a little longer (end B retrying into the void), sampling memory.
            var during = s.SampleRss(lstp);
            while (DateTimeOffset.UtcNow - blackholeAt < TimeSpan.FromSeconds(55))
            {
                await Task.Delay(1000);
                foreach (var (label, rss) in s.SampleRss(lstp)) during[label] = Math.Max(during.GetValueOrDefault(label), rss);
            }
            s.Say("RSS peak while dark: " + Describe(during));

            var offAt = DateTimeOffset.UtcNow;
            await Run.LabAsync("blackhole", "corpb", "off");
            s.Say("corp B reconnected");
            var probe = s.StartProbe();
            var flowing = await LabScenario.WaitForProbeOkAsync(probe, offAt, RecoveryBound, "after the blackhole was lifted");
            var recovery = flowing - offAt;
            var middleB = await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(5), offAt);
            s.Say($"data flows again {recovery.TotalSeconds:0.0} s after the blackhole was lifted (via {middleB})");
            LabScenario.Record("blackhole-times.txt", string.Create(CultureInfo.InvariantCulture,
                $"{offAt:yyyy-MM-ddTHH:mm:ssZ} blackhole corpb lifted: data flowed again via {middleB} after {recovery.TotalSeconds:0.0} s"));

            var again = await s.TransferAsync(8 * MiB, TimeSpan.FromSeconds(120), "transfer-after");
            Assert.True(again.Ok, $"a transfer after recovery failed: {again.Error}");
            await Task.Delay(2000);
            var after = s.SampleRss(lstp);
            s.Say("RSS after: " + Describe(after));

            foreach (var (label, baseline) in before)
            {
                var bound = 2 * baseline + 50 * MiB;
                Assert.True(during.GetValueOrDefault(label) < bound, $"{label} grew to {during[label] / MiB} MiB while dark (baseline {baseline / MiB} MiB)");
                Assert.True(after.ContainsKey(label), $"{label} is gone");
                Assert.True(after[label] < bound, $"{label} grew to {after[label] / MiB} MiB (baseline {baseline / MiB} MiB)");
            }
        });

    /// <summary>
    /// The same break, lifted at a chosen moment: end B's last failed dial was to m1, so its next one goes to m2, while
    /// end A (whose own path never broke) registered again on m1. "Both ends of a broken tunnel register again and pair
    /// again wherever they meet" (issue 4): they must still find each other.
    /// </summary>
    [Fact]
    public Task After_a_blackhole_the_ends_meet_again_even_when_they_come_back_on_different_middles() =>
        LabScenario.RunAsync(lab, output, nameof(After_a_blackhole_the_ends_meet_again_even_when_they_come_back_on_different_middles), async s =>
        {
            var (m1, m2) = await s.StartMiddlesAsync();
            await s.StartEchoServiceAsync();
            // Resumption off: this is about fresh tunnels finding each other (a resuming tunnel pairs the same way).
            string[] noResume = ["--resume-grace", "0"];
            var endA = s.StartServerEnd(extra: noResume);
            var endB = s.StartClientEnd(extra: noResume);
            Assert.Equal("m1", await s.WaitForTunnelAsync(endA, TimeSpan.FromSeconds(60)));
            await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(60));

            var blackholeAt = DateTimeOffset.UtcNow;
            await Run.LabAsync("blackhole", "corpb", "on");
            s.Say("corp B blackholed");
            var downA = await endA.WaitForLineAsync(LabScenario.TunnelDown(), TimeSpan.FromSeconds(90), "end A letting go of the dead tunnel", blackholeAt);
            s.Say($"end A: {downA.Text}");
            await m1.WaitForLineAsync(new(@"end end-a from .* waits for its peer"), TimeSpan.FromSeconds(60), "end A waiting on m1 again", downA.At);
            s.Say("end A waits on m1 again");
            // End B's dial to m1 fails (the path is still dark): its next attempt goes to m2.
            var failedOnM1 = await endB.WaitForLineAsync(new($@"tunnel down: .*{Regex.Escape(s.Middle1Address)}"), TimeSpan.FromSeconds(120),
                "end B failing to reach m1 while dark", blackholeAt);
            var offAt = DateTimeOffset.UtcNow;
            await Run.LabAsync("blackhole", "corpb", "off");
            s.Say($"corp B reconnected right after end B's failed dial to m1: {failedOnM1.Text}");

            var probe = s.StartProbe();
            try
            {
                var flowing = await LabScenario.WaitForProbeOkAsync(probe, offAt, RecoveryBound, "after the blackhole was lifted");
                s.Say($"data flows again {(flowing - offAt).TotalSeconds:0.0} s after the blackhole was lifted");
            }
            catch (LabException)
            {
                s.Say("where the ends wait: " + string.Join(" | ", m1.LinesMatching(new("waits for its peer"), blackholeAt).Select(l => "m1: " + l.Text)
                    .Concat(m2.LinesMatching(new("waits for its peer"), blackholeAt).Select(l => "m2: " + l.Text))));
                throw;
            }
        });

    private static TimeSpan Remaining(DateTimeOffset deadline)
    {
        var left = deadline - DateTimeOffset.UtcNow;
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    private static string Describe(Dictionary<string, long> rss) =>
        string.Join(", ", rss.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value / (double)MiB:0.0} MiB")));
}

using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>Several middles: when the one in use dies, both ends register again and pair on the other.</summary>
[Collection(LabCollection.Name)]
public sealed class MiddleFailoverTests(LabFixture lab, ITestOutputHelper output)
{
    /// <summary>Generous: what matters is that the tunnel comes back by itself, not how fast this machine is.</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(90);

    [Fact]
    public Task Killing_the_middle_in_use_re_pairs_the_ends_on_the_other_middle_and_data_flows_again() =>
        LabScenario.RunAsync(lab, output, nameof(Killing_the_middle_in_use_re_pairs_the_ends_on_the_other_middle_and_data_flows_again), async s =>
        {
            var middles = new Dictionary<string, LabProcess>();
            (middles["m1"], middles["m2"]) = await s.StartMiddlesAsync();
            await s.StartEchoServiceAsync();
            var endA = s.StartServerEnd();
            var endB = s.StartClientEnd();
            var inUse = await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(60));
            Assert.Equal(inUse, await s.WaitForTunnelAsync(endA, TimeSpan.FromSeconds(60)));

            var first = await s.TransferAsync(1024 * 1024, TimeSpan.FromSeconds(60), "transfer-before");
            Assert.True(first.Ok, $"the tunnel did not work before the kill: {first.Error}");

            var probe = s.StartProbe();
            await LabScenario.WaitForProbeOkAsync(probe, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(30), "probes before the kill");

            for (var round = 1; round <= 2; round++)
            {
                // A connection in flight on the path that dies must be closed, not left hanging.
                var inFlight = s.StartTransfer(512L * 1024 * 1024, 1024 * 1024, TimeSpan.FromSeconds(300), $"in-flight-{round}");
                await inFlight.WaitForLineAsync(new(@"^progress \d+ [1-9]"), TimeSpan.FromSeconds(30), "the in-flight transfer moving");

                var victim = middles[inUse];
                var other = inUse == "m1" ? "m2" : "m1";
                var killedAt = DateTimeOffset.UtcNow;
                victim.KillHard();
                s.Say($"round {round}: kill -9 {inUse} (pid {victim.Pid}), the middle in use; {other} remains");

                var flowing = await LabScenario.WaitForProbeOkAsync(probe, killedAt, RecoveryBound, $"round {round}: after killing {inUse}");
                var repair = flowing - killedAt;
                var nowA = await s.WaitForTunnelAsync(endA, TimeSpan.FromSeconds(5), killedAt);
                var nowB = await s.WaitForTunnelAsync(endB, TimeSpan.FromSeconds(5), killedAt);
                // Two figures: when both ends logged the new tunnel open, and when an application's bytes made the round trip.
                var openedAt = new[] { endA, endB }.Max(e => e.LinesMatching(LabScenario.TunnelOpen(), killedAt).First().At);
                var paired = openedAt - killedAt;
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"{killedAt:yyyy-MM-ddTHH:mm:ssZ} round {round}: kill -9 {inUse} -> both ends re-paired via {nowB} after {paired.TotalSeconds:0.00} s; data flowed again after {repair.TotalSeconds:0.00} s");
                s.Say(line);
                output.WriteLine($"RE-PAIR TIME: {repair.TotalSeconds:0.00} s until data flowed again ({paired.TotalSeconds:0.00} s until both ends re-paired; round {round}, killed {inUse}, now via {nowB})");
                LabScenario.Record("repair-times.txt", line);

                Assert.Equal(other, nowA);
                Assert.Equal(other, nowB);
                Assert.True(repair < RecoveryBound, $"recovery took {repair.TotalSeconds:0.0} s");

                Assert.True(await inFlight.WaitForExitAsync(TimeSpan.FromSeconds(30)),
                    $"round {round}: a connection that was on the dead path still hangs 30 s after the kill:\n{inFlight.Tail(5)}");
                var cut = LabScenario.LastResult(inFlight);
                s.Say($"round {round}: the in-flight transfer ended: ok={cut.Ok} received={cut.Received} error={cut.Error}");
                Assert.False(cut.Ok, "a transfer that was on the killed middle cannot have completed");
                Assert.DoesNotContain("timed out", cut.Error ?? "");

                var after = await s.TransferAsync(4 * 1024 * 1024, TimeSpan.FromSeconds(60), $"transfer-after-{round}");
                Assert.True(after.Ok, $"round {round}: a transfer after re-pairing failed: {after.Error}");

                // Bring the dead middle back so the next round can fail over to it.
                middles[inUse] = await s.StartMiddleAsync(inUse, $"{inUse}-restarted-{round}");
                inUse = other;
            }
        });
}

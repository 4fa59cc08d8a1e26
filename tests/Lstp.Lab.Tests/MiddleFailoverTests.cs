using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Lab.Tests;

/// <summary>Several middles: when the one in use dies, both ends resume their tunnel on the other, connections and all.</summary>
[Collection(LabCollection.Name)]
public sealed class MiddleFailoverTests(LabFixture lab, ITestOutputHelper output)
{
    /// <summary>Generous: what matters is that the tunnel comes back by itself, not how fast this machine is.</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(90);

    [Fact]
    public Task Killing_the_middle_in_use_resumes_the_tunnel_on_the_other_middle_and_the_transfer_in_flight_completes() =>
        LabScenario.RunAsync(lab, output, nameof(Killing_the_middle_in_use_resumes_the_tunnel_on_the_other_middle_and_the_transfer_in_flight_completes), async s =>
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
                // A connection in flight on the middle that dies: the tunnel resumes on the other middle and the
                // transfer completes, every byte checked, without an error (docs/protocol.md §6.7).
                var inFlight = s.StartTransfer(64L * 1024 * 1024, 4 * 1024 * 1024, TimeSpan.FromSeconds(120), $"in-flight-{round}");
                await inFlight.WaitForLineAsync(new(@"^progress \d+ [1-9]"), TimeSpan.FromSeconds(30), "the in-flight transfer moving");

                var victim = middles[inUse];
                var other = inUse == "m1" ? "m2" : "m1";
                var killedAt = DateTimeOffset.UtcNow;
                victim.KillHard();
                s.Say($"round {round}: kill -9 {inUse} (pid {victim.Pid}), the middle in use; {other} remains");

                var flowing = await LabScenario.WaitForProbeOkAsync(probe, killedAt, RecoveryBound, $"round {round}: after killing {inUse}");
                var repair = flowing - killedAt;
                var nowA = await s.WaitForResumeAsync(endA, TimeSpan.FromSeconds(5), killedAt);
                var nowB = await s.WaitForResumeAsync(endB, TimeSpan.FromSeconds(5), killedAt);
                // Two figures: when both ends logged the tunnel resumed, and when an application's bytes made the round trip.
                var resumedAt = new[] { endA, endB }.Max(e => e.LinesMatching(LabScenario.TunnelResumed(), killedAt).First().At);
                var resumed = resumedAt - killedAt;
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"{killedAt:yyyy-MM-ddTHH:mm:ssZ} round {round}: kill -9 {inUse} -> both ends resumed the tunnel via {nowB} after {resumed.TotalSeconds:0.00} s; a new connection's data flowed after {repair.TotalSeconds:0.00} s");
                s.Say(line);
                output.WriteLine($"RESUME TIME: {resumed.TotalSeconds:0.00} s until both ends resumed ({repair.TotalSeconds:0.00} s until a new connection's data flowed; round {round}, killed {inUse}, now via {nowB})");
                LabScenario.Record("repair-times.txt", line);

                Assert.Equal(other, nowA);
                Assert.Equal(other, nowB);
                Assert.True(repair < RecoveryBound, $"recovery took {repair.TotalSeconds:0.0} s");
                Assert.Empty(endB.LinesMatching(LabScenario.TunnelLost(), killedAt));

                Assert.True(await inFlight.WaitForExitAsync(TimeSpan.FromSeconds(90)),
                    $"round {round}: the transfer that was on the killed middle has not finished:\n{inFlight.Tail(5)}");
                var carried = LabScenario.LastResult(inFlight);
                s.Say($"round {round}: the in-flight transfer ended: ok={carried.Ok} received={carried.Received} error={carried.Error}");
                Assert.True(carried.Ok, $"round {round}: the transfer across the kill failed: {carried.Error}");
                Assert.Equal(64L * 1024 * 1024, carried.Received);

                // Bring the dead middle back so the next round can fail over to it.
                middles[inUse] = await s.StartMiddleAsync(inUse, $"{inUse}-restarted-{round}");
                inUse = other;
            }
        });
}

using System.Security.Cryptography;
using Lstp.Cluster.Tests.Support;
using Lstp.Middle.Pairing;
using Lstp.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>The claim is atomic: however registrations race across nodes, every waiting end is paired once.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClaimRaceTests(ITestOutputHelper output)
{
    private const int Trials = 200;

    [Fact]
    public async Task Two_nodes_racing_to_claim_one_waiting_end_exactly_one_wins_every_time()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var holder = await RegistryNode.StartAsync("holder", null, log);
        await using var b = await RegistryNode.StartAsync("racer-b", holder, log);
        await using var c = await RegistryNode.StartAsync("racer-c", holder, log);

        for (var trial = 0; trial < Trials; trial++)
        {
            var key = RandomNumberGenerator.GetBytes(32);
            var waiting = RegistryNode.End(key, "first");
            Assert.IsType<RegisterResult.Stored>(await holder.Registry.RegisterAsync(waiting, CancellationToken.None));

            using var start = new Barrier(2);
            var fromB = Task.Run(() => { start.SignalAndWait(); return b.Registry.RegisterAsync(RegistryNode.End(key, "second-b"), CancellationToken.None); });
            var fromC = Task.Run(() => { start.SignalAndWait(); return c.Registry.RegisterAsync(RegistryNode.End(key, "second-c"), CancellationToken.None); });
            var results = await Task.WhenAll(fromB, fromC);

            var forward = Assert.Single(results.OfType<RegisterResult.Forward>());
            Assert.Single(results.OfType<RegisterResult.Stored>());
            Assert.Equal(holder.Link, forward.Node.ToString());
            Assert.Same(waiting, holder.Registry.TakeClaimed(forward.Claim));
            Assert.Null(holder.Registry.TakeClaimed(forward.Claim));
        }
        // Each trial's loser waits, as a third end would.
        Assert.Equal(Trials, b.Registry.Snapshot().Count + c.Registry.Snapshot().Count);
        Assert.Empty(holder.Registry.Snapshot());
    }

    [Fact]
    public async Task Both_ends_registering_at_once_at_two_nodes_never_both_wait()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var b = await RegistryNode.StartAsync("node-b", null, log);
        await using var c = await RegistryNode.StartAsync("node-c", b, log);

        for (var trial = 0; trial < Trials; trial++)
        {
            var key = RandomNumberGenerator.GetBytes(32);
            using var start = new Barrier(2);
            var atB = Task.Run(() => { start.SignalAndWait(); return b.Registry.RegisterAsync(RegistryNode.End(key, "client"), CancellationToken.None); });
            var atC = Task.Run(() => { start.SignalAndWait(); return c.Registry.RegisterAsync(RegistryNode.End(key, "server"), CancellationToken.None); });
            var results = await Task.WhenAll(atB, atC);

            Assert.Single(results.OfType<RegisterResult.Stored>());
            var forward = Assert.Single(results.OfType<RegisterResult.Forward>());
            var owner = results[0] is RegisterResult.Stored ? b : c;
            Assert.Equal(owner.Link, forward.Node.ToString());
            Assert.NotNull(owner.Registry.TakeClaimed(forward.Claim));
        }
        Assert.Empty(b.Registry.Snapshot());
        Assert.Empty(c.Registry.Snapshot());
    }

    [Fact]
    public async Task An_end_that_registers_again_at_another_node_replaces_its_older_connection()
    {
        var log = new TestLog(output, LogLevel.Information);
        await using var a = await RegistryNode.StartAsync("node-a", null, log);
        await using var b = await RegistryNode.StartAsync("node-b", a, log);
        var key = RandomNumberGenerator.GetBytes(32);
        var old = RegistryNode.End(key, "client");
        Assert.IsType<RegisterResult.Stored>(await a.Registry.RegisterAsync(old, CancellationToken.None));

        Assert.IsType<RegisterResult.Stored>(await b.Registry.RegisterAsync(RegistryNode.End(key, "client"), CancellationToken.None));

        var outcome = await old.Outcome.Task.WaitAsync(TimeSpan.FromSeconds(5)); // told by the key's entity
        Assert.Equal(Protocol.ErrorCode.Replaced, outcome.Code);
        Assert.Empty(a.Registry.Snapshot());
        Assert.Single(b.Registry.Snapshot());

        // The newer registration is the one the cluster holds: a peer registering anywhere claims it.
        Assert.IsType<RegisterResult.Forward>(await a.Registry.RegisterAsync(RegistryNode.End(key, "server"), CancellationToken.None));
    }
}

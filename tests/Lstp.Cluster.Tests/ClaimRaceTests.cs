using System.Security.Cryptography;
using Lstp.Cluster.Tests.Support;
using Lstp.Middle.Pairing;
using Lstp.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>The claim is atomic: however registrations race across nodes, every waiting end is paired once.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClaimRaceTests(PostgresServer postgres, ITestOutputHelper output)
{
    private const int Trials = 200;

    [Fact]
    public async Task Two_nodes_racing_to_claim_one_waiting_end_exactly_one_wins_every_time()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        await using var holder = await RegistryNode.StartAsync(database, "holder", log);
        await using var b = await RegistryNode.StartAsync(database, "racer-b", log);
        await using var c = await RegistryNode.StartAsync(database, "racer-c", log);

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
            Assert.Equal(holder.Advertise, forward.Node.ToString());
            Assert.Same(waiting, holder.Registry.TakeClaimed(forward.Claim));
            Assert.Null(holder.Registry.TakeClaimed(forward.Claim));
        }
        Assert.Equal(Trials, await RowsAsync(database)); // each trial's loser waits, as a third end would
    }

    [Fact]
    public async Task Both_ends_registering_at_once_at_two_nodes_never_both_wait()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        await using var b = await RegistryNode.StartAsync(database, "node-b", log);
        await using var c = await RegistryNode.StartAsync(database, "node-c", log);

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
            Assert.Equal(owner.Advertise, forward.Node.ToString());
            Assert.NotNull(owner.Registry.TakeClaimed(forward.Claim));
        }
        Assert.Equal(0, await RowsAsync(database));
    }

    [Fact]
    public async Task An_end_that_registers_again_at_another_node_replaces_its_older_connection()
    {
        var log = new TestLog(output, LogLevel.Information);
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await RegistryNode.StartAsync(database, "node-a", log);
        await using var b = await RegistryNode.StartAsync(database, "node-b", log);
        var key = RandomNumberGenerator.GetBytes(32);
        var old = RegistryNode.End(key, "client");
        Assert.IsType<RegisterResult.Stored>(await a.Registry.RegisterAsync(old, CancellationToken.None));

        Assert.IsType<RegisterResult.Stored>(await b.Registry.RegisterAsync(RegistryNode.End(key, "client"), CancellationToken.None));

        var outcome = await old.Outcome.Task.WaitAsync(TimeSpan.FromSeconds(5)); // told by NOTIFY
        Assert.Equal(Protocol.ErrorCode.Replaced, outcome.Code);
        Assert.Empty(a.Registry.Snapshot());
        Assert.Equal(1, await RowsAsync(database));
    }

    private static async Task<long> RowsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM lstp.waiting", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

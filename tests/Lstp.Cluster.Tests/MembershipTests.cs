using System.Security.Cryptography;
using Lstp.Cluster.Tests.Support;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>The schema, the cluster secret, and membership: joining, heartbeats, and the dead being cleared away.</summary>
[Collection(ClusterCollection.Name)]
public sealed class MembershipTests(PostgresServer postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Nodes_starting_together_create_the_schema_once_and_share_one_secret()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        var joins = Enumerable.Range(0, 6).Select(i => ClusterSetup.JoinAsync(
            new ClusterOptions { ConnectionString = database },
            new MiddleOptions { Listen = new HostPort("127.0.0.1", 7000 + i), Name = $"node-{i}" }, log)).ToList();
        var nodes = await Task.WhenAll(joins);
        try
        {
            Assert.Single(nodes.Select(n => n.Options.UpstreamToken).Distinct());
            Assert.False(string.IsNullOrEmpty(nodes[0].Options.UpstreamToken));
            Assert.Equal([1L], await ColumnAsync(database, "SELECT version FROM lstp.schema_version"));
            Assert.Equal([6L], await ColumnAsync(database, "SELECT count(*) FROM lstp.nodes"));
            await nodes[0].Membership.RefreshAsync(CancellationToken.None);
            Assert.Equal(6, nodes[0].Membership.Members.Count);
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
        Assert.Equal([0L], await ColumnAsync(database, "SELECT count(*) FROM lstp.nodes")); // a clean stop leaves

        // Joining again changes nothing: same schema version, same secret.
        await using var again = await ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = database }, new MiddleOptions { Listen = new HostPort("127.0.0.1", 7100), Name = "again" }, log);
        Assert.Equal(nodes[0].Options.UpstreamToken, again.Options.UpstreamToken);
        Assert.Equal([1L], await ColumnAsync(database, "SELECT version FROM lstp.schema_version"));
    }

    [Fact]
    public async Task A_given_cluster_secret_is_what_the_node_presents_and_accepts()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        await using var node = await ClusterSetup.JoinAsync(
            new ClusterOptions { ConnectionString = database, Secret = "given secret" },
            new MiddleOptions { Listen = new HostPort("127.0.0.1", 7000), Name = "n", Tokens = ["end token"] }, log);
        Assert.Equal("given secret", node.Options.UpstreamToken);
        Assert.Equal(["end token"], node.Options.Tokens); // ends cannot use the cluster secret
        Assert.Equal(["given secret"], node.Options.NodeTokens);
        Assert.Equal("127.0.0.1:7000", node.Options.Advertise);
    }

    [Fact]
    public async Task A_database_at_a_newer_schema_version_is_refused_with_a_clear_message()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        await (await ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = database }, new MiddleOptions { Listen = new HostPort("127.0.0.1", 7000), Name = "n" }, log)).DisposeAsync();
        await ColumnAsync(database, "INSERT INTO lstp.schema_version (version) VALUES (99) RETURNING version");

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = database }, new MiddleOptions { Listen = new HostPort("127.0.0.1", 7000), Name = "n" }, log));
        Assert.Contains("newer", error.Message);
    }

    [Fact]
    public async Task Configuration_mistakes_are_refused_before_anything_starts()
    {
        var log = new TestLog(output, LogLevel.Warning);
        var database = await postgres.CreateDatabaseAsync();
        var wildcard = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = database }, new MiddleOptions { Listen = new HostPort("0.0.0.0", 7700) }, log));
        Assert.Contains("--advertise", wildcard.Message);
        var cascade = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = database }, new MiddleOptions { Listen = new HostPort("127.0.0.1", 7700), Upstream = new HostPort("127.0.0.1", 7701) }, log));
        Assert.Contains("--upstream", cascade.Message);
        var noDatabase = await Assert.ThrowsAsync<ArgumentException>(() => ClusterSetup.JoinAsync(new ClusterOptions { ConnectionString = postgres.ConnectionString("no_such_database") }, new MiddleOptions { Listen = new HostPort("127.0.0.1", 7700) }, log));
        Assert.Contains("does not exist", noDatabase.Message);
        Assert.DoesNotContain("Password", noDatabase.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_node_that_stops_beating_is_deleted_with_its_waiting_ends_within_dead_after_plus_one_heartbeat()
    {
        var log = new TestLog(output, LogLevel.Information);
        var database = await postgres.CreateDatabaseAsync();
        var heartbeat = TimeSpan.FromMilliseconds(250);
        var deadAfter = TimeSpan.FromSeconds(2);
        ClusterOptions Fast(ClusterOptions c) => c with { HeartbeatInterval = heartbeat, DeadAfter = deadAfter };
        await using var survivor = await RegistryNode.StartAsync(database, "survivor", log, Fast);
        await using var doomed = await RegistryNode.StartAsync(database, "doomed", log, Fast);
        await Task.Delay(deadAfter + heartbeat); // the survivor judges others only after DeadAfter of its own heartbeats
        for (var i = 0; i < 5; i++) Assert.IsType<RegisterResult.Stored>(await doomed.Registry.RegisterAsync(RegistryNode.End(RandomNumberGenerator.GetBytes(32), "e"), CancellationToken.None));
        Assert.Equal([5L], await ColumnAsync(database, "SELECT count(*) FROM lstp.waiting"));

        var died = DateTime.UtcNow;
        await doomed.Cluster.AbandonAsync();
        await Eventually.TrueAsync(() => ColumnAsync(database, "SELECT count(*) FROM lstp.waiting").Result[0] == 0, "the dead node's waiting ends are deleted", TimeSpan.FromSeconds(10));
        var took = DateTime.UtcNow - died;
        output.WriteLine($"deleted {took.TotalSeconds:0.0} s after the last heartbeat could have been sent");
        Assert.InRange(took, TimeSpan.Zero, deadAfter + 2 * heartbeat + TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => survivor.Cluster.Membership.Members.Count == 1, "the survivor's member list drops the dead node");
        Assert.Contains(log.Lines, l => l.Contains("node doomed missed heartbeats", StringComparison.Ordinal));
    }

    private static async Task<List<long>> ColumnAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var values = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) values.Add(Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        return values;
    }
}

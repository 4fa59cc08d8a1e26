using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Cluster.Tests.Support;
using Lstp.EndProxy.Connect;
using Lstp.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Cluster.Tests;

/// <summary>PostgreSQL stops and starts again under a running cluster (issue 6, "Failure").</summary>
[Collection(ClusterCollection.Name)]
public sealed class OutageTests(PostgresServer postgres, ITestOutputHelper output)
{
    private static readonly TimeSpan OfflineWait = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Database_outage_keeps_tunnels_and_local_pairing_fails_cross_node_pairing_fast_and_recovers()
    {
        var log = new TestLog(output, LogLevel.Information);
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await ClusterMiddle.StartAsync(database, "node-a", log, c => c with { OfflineWait = OfflineWait });
        await using var b = await ClusterMiddle.StartAsync(database, "node-b", log, c => c with { OfflineWait = OfflineWait });
        await using var echo = new EchoServer();
        var services = new Dictionary<string, string> { ["echo"] = echo.Address };
        await using var sameNode = EndPair.Start(1, [a.Address], [a.Address], log, services);
        await using var acrossNodes = EndPair.Start(2, [b.Address], [a.Address], log, services);
        await Eventually.TrueAsync(() => sameNode.BothOpen && acrossNodes.BothOpen, "both tunnels are open", TimeSpan.FromSeconds(20));

        var stopped = false;
        try
        {
            await postgres.StopAsync();
            stopped = true;

            // Established tunnels carry on: the database is not on the data path.
            await EchoAsync(sameNode);
            await EchoAsync(acrossNodes);

            // Pairing within one node still works.
            await using var newSameNode = EndPair.Start(3, [b.Address], [b.Address], log);
            await Eventually.TrueAsync(() => newSameNode.BothOpen, "a new pair of ends at one node pairs during the outage", TimeSpan.FromSeconds(20));
            Assert.Equal(["client-3", "node-b", "server-3"], newSameNode.Client.Supervisor.Current!.Session.Pairing.Path.Select(e => e.Name));

            // Pairing across nodes fails fast, and says why.
            await using var newAcross = EndPair.Start(4, [b.Address], [a.Address], log);
            await Eventually.TrueAsync(
                () => newAcross.Client.Supervisor.State.LastError?.Contains("database is unreachable", StringComparison.Ordinal) == true,
                "the end waiting for a peer at another node is told the database is unreachable", OfflineWait + TimeSpan.FromSeconds(5));
            output.WriteLine($"the end was told: {newAcross.Client.Supervisor.State.LastError}");
            Assert.False(newAcross.BothOpen);

            // The database returns: pairing across nodes resumes.
            await postgres.StartAsync();
            stopped = false;
            await Eventually.TrueAsync(() => newAcross.BothOpen, "the pair across nodes pairs once the database is back", TimeSpan.FromSeconds(30));
            Assert.Equal(4, newAcross.Client.Supervisor.Current!.Session.Pairing.Path.Count);
            Assert.True(sameNode.BothOpen && acrossNodes.BothOpen && newSameNode.BothOpen);
        }
        finally
        {
            if (stopped) await postgres.StartAsync();
        }
    }

    private static async Task EchoAsync(EndPair pair)
    {
        using var socket = await Net.ConnectAsync(pair.ForwardPort("echo"));
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        await socket.SendAsync(payload, SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        var back = await Net.ReadToEndAsync(socket).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(payload.AsSpan().SequenceEqual(back), $"pair {pair.Index}: echoed {back.Length} of {payload.Length} bytes, or altered");
    }
}

using System.IO.Pipelines;
using System.Security.Cryptography;
using Lstp.Cluster.Pairing;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Tests.Support;

/// <summary>
/// Cluster nodes reduced to their registries: joined to the database, with registries made the way the middle
/// host makes them, and ends that are only a setup on a link nobody reads. For tests of the registry itself.
/// </summary>
public sealed class RegistryNode : IAsyncDisposable
{
    private RegistryNode(ClusterNode cluster, PgPairingRegistry registry)
    {
        Cluster = cluster;
        Registry = registry;
    }

    public ClusterNode Cluster { get; }
    public PgPairingRegistry Registry { get; }
    public string Advertise => Cluster.Membership.Advertise;

    public static async Task<RegistryNode> StartAsync(string connectionString, string name, ILoggerFactory log, Func<ClusterOptions, ClusterOptions>? tune = null)
    {
        var options = new MiddleOptions { Listen = new HostPort("127.0.0.1", Net.FreePort()), Admin = null, Name = name, MaxWaitingPerSource = 1_000_000, MaxLinksPerSource = 1_000_000 };
        var clusterOptions = new ClusterOptions { ConnectionString = connectionString };
        var cluster = await ClusterSetup.JoinAsync(tune?.Invoke(clusterOptions) ?? clusterOptions, options, log);
        var registry = (PgPairingRegistry)cluster.Options.RegistryFactory!(cluster.Options, log);
        return new RegistryNode(cluster, registry);
    }

    /// <summary>A waiting end's stand-in: its setup names the pairing key and the end.</summary>
    public static WaitingEnd End(byte[] pairingKey, string name, string source = "127.0.0.1:40000")
    {
        var transport = new DuplexPipe(new Pipe().Reader, new Pipe().Writer);
        var link = new LinkSession(transport, source, CancellationToken.None, _ => { })
        {
            Info = new CommonUniqueInfo(pairingKey, 0, name, "tester", RandomNumberGenerator.GetBytes(16), SetupFlags.None),
        };
        return new WaitingEnd(link, DateTimeOffset.UtcNow);
    }

    public async ValueTask DisposeAsync()
    {
        await Registry.DisposeAsync();
        await Cluster.DisposeAsync();
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}

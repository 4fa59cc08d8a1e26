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
/// Cluster nodes reduced to their registries: real actor systems joined into one cluster on loopback, with
/// registries made the way the middle host makes them, and ends that are only a setup on a link nobody reads.
/// For tests of the registry itself.
/// </summary>
public sealed class RegistryNode : IAsyncDisposable
{
    private RegistryNode(ClusterNode cluster, ShardedPairingRegistry registry, HostPort endpoint)
    {
        Cluster = cluster;
        Registry = registry;
        Endpoint = endpoint;
    }

    public ClusterNode Cluster { get; }
    public ShardedPairingRegistry Registry { get; }

    /// <summary>Where the node's links are: what a claiming node is told to dial.</summary>
    public string Link => Registry.Link;

    /// <summary>The node's cluster endpoint (a seed for the next node).</summary>
    public HostPort Endpoint { get; }

    /// <summary>Starts a node joining through <paramref name="seed"/>; without one it starts a new cluster.</summary>
    public static async Task<RegistryNode> StartAsync(string name, RegistryNode? seed, ILoggerFactory log, Func<ClusterOptions, ClusterOptions>? tune = null)
    {
        var options = new MiddleOptions { Listen = new HostPort("127.0.0.1", Net.FreePort()), Admin = null, Name = name, MaxWaitingPerSource = 1_000_000, MaxLinksPerSource = 1_000_000 };
        var endpoint = Endpoints.Free();
        var clusterOptions = new ClusterOptions { Advertise = endpoint, Seeds = [seed?.Endpoint ?? endpoint] };
        var cluster = await ClusterSetup.JoinAsync(tune?.Invoke(clusterOptions) ?? clusterOptions, options, log);
        var registry = (ShardedPairingRegistry)cluster.Options.RegistryFactory!(cluster.Options, log);
        return new RegistryNode(cluster, registry, endpoint);
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

    /// <summary>Dies without a word to the cluster (what kill -9 looks like to the others).</summary>
    public Task CrashAsync() => Cluster.AbandonAsync();

    public async ValueTask DisposeAsync()
    {
        await Registry.DisposeAsync();
        await Cluster.DisposeAsync();
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}

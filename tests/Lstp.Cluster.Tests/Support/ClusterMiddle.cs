using Lstp.Admin;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Tests.Support;

/// <summary>One cluster node in the test's process: the cluster membership and the middle host it serves.</summary>
public sealed class ClusterMiddle : IAsyncDisposable
{
    private ClusterMiddle(ClusterNode cluster, MiddleHost host, HostPort endpoint)
    {
        Cluster = cluster;
        Host = host;
        Endpoint = endpoint;
    }

    /// <summary>The node's cluster endpoint (a seed for the next node).</summary>
    public HostPort Endpoint { get; }

    public ClusterNode Cluster { get; }
    public MiddleHost Host { get; }
    public MiddleNode Node => Host.Node;
    public HostPort Address => Host.LinkAddress;
    public string Name => Node.Options.Name;

    /// <summary>
    /// A node listening on a free loopback port it advertises, with its admin endpoint on another, and the
    /// per-source limits lifted: every end of a test comes from 127.0.0.1.
    /// </summary>
    public static async Task<ClusterMiddle> StartAsync(string name, ClusterMiddle? seed, ILoggerFactory log, Func<ClusterOptions, ClusterOptions>? cluster = null, Func<MiddleOptions, MiddleOptions>? middle = null)
    {
        var port = Net.FreePort();
        var options = new MiddleOptions
        {
            Listen = new HostPort("127.0.0.1", port),
            Admin = new HostPort("127.0.0.1", 0),
            Name = name,
            MaxConnectionsPerSecondPerSource = 1_000_000,
            MaxWaitingPerSource = 1_000_000,
            MaxLinksPerSource = 1_000_000,
        };
        var endpoint = Endpoints.Free();
        var clusterOptions = new ClusterOptions { Advertise = endpoint, Seeds = [seed?.Endpoint ?? endpoint] };
        var node = await ClusterSetup.JoinAsync(cluster?.Invoke(clusterOptions) ?? clusterOptions, middle?.Invoke(options) ?? options, log);
        try
        {
            return new ClusterMiddle(node, await MiddleHost.StartAsync(node.Options, log, Admin.Access.AdminAccess.LoopbackOnly, node.System), endpoint);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Dies without a word to the cluster: remoting stops, links are cut (what kill -9 looks like to the others).</summary>
    public async Task CrashAsync()
    {
        await Cluster.AbandonAsync();
        await Host.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

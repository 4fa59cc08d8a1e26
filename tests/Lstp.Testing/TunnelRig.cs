using Lstp.Admin;
using Lstp.EndProxy;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Tunnel.Session;

namespace Lstp.Testing;

/// <summary>
/// A whole tunnel in one process on real loopback sockets: a middle, a server end offering the given services,
/// and a client end with forwards to them. Tests reach services through <see cref="ForwardPort"/>.
/// </summary>
public sealed class TunnelRig : IAsyncDisposable
{
    private TunnelRig(TestLog log, MiddleHost middle, EndProxyHost server, EndProxyHost client)
    {
        Log = log;
        Middle = middle;
        Server = server;
        Client = client;
    }

    public TestLog Log { get; }
    public MiddleHost Middle { get; private set; }
    public EndProxyHost Server { get; private set; }
    public EndProxyHost Client { get; private set; }

    /// <summary>The local port of the client end's forward to <paramref name="service"/>.</summary>
    public int ForwardPort(string service) => Client.Listeners.Single(l => l.What.EndsWith("=" + service, StringComparison.Ordinal)).Address.Port;

    public static async Task<TunnelRig> StartAsync(TestLog log, IReadOnlyDictionary<string, string> services, string secret = "rig secret", Func<EndOptions, EndOptions>? client = null, Func<EndOptions, EndOptions>? server = null, MiddleOptions? middle = null, MiddleHost? existingMiddle = null, EndProxy.Telemetry.EndMetrics? clientMetrics = null, EndProxy.Telemetry.EndMetrics? serverMetrics = null)
    {
        var middleHost = existingMiddle ?? await MiddleHost.StartAsync(middle ?? new MiddleOptions { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort("127.0.0.1", 0), Name = "rig-middle" }, log);
        var serverOptions = new EndOptions
        {
            Middles = [middleHost.LinkAddress],
            Secret = secret,
            Name = "server-end",
            Services = [.. services.Select(s => new ServiceSpec(s.Key, HostPort.Parse(s.Value)))],
            BackoffMin = TimeSpan.FromMilliseconds(50),
            BackoffMax = TimeSpan.FromSeconds(1),
        };
        var clientOptions = new EndOptions
        {
            Middles = [middleHost.LinkAddress],
            Secret = secret,
            Name = "client-end",
            Forwards = [.. services.Keys.Select(name => new ForwardSpec(new HostPort("127.0.0.1", 0), name))],
            BackoffMin = TimeSpan.FromMilliseconds(50),
            BackoffMax = TimeSpan.FromSeconds(1),
        };
        var serverHost = EndProxyHost.Start(server?.Invoke(serverOptions) ?? serverOptions, log, metrics: serverMetrics);
        var clientHost = EndProxyHost.Start(client?.Invoke(clientOptions) ?? clientOptions, log, metrics: clientMetrics);
        return new TunnelRig(log, middleHost, serverHost, clientHost);
    }

    /// <summary>Waits until both ends have an open tunnel.</summary>
    public async Task<(Tunnel.Session.Tunnel Client, Tunnel.Session.Tunnel Server)> OpenAsync(TimeSpan? timeout = null)
    {
        var wait = timeout ?? TimeSpan.FromSeconds(20);
        var c = await Client.Supervisor.WaitForTunnelAsync(wait, CancellationToken.None) ?? throw new TimeoutException("the client end's tunnel did not open");
        var s = await Server.Supervisor.WaitForTunnelAsync(wait, CancellationToken.None) ?? throw new TimeoutException("the server end's tunnel did not open");
        return (c, s);
    }

    /// <summary>Swaps in a new middle (after the test stopped the old one); the ends find it by address.</summary>
    public async Task ReplaceMiddleAsync(MiddleHost middle)
    {
        var old = Middle;
        Middle = middle;
        await old.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await Middle.DisposeAsync();
    }
}

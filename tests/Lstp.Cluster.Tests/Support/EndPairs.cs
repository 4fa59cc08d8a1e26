using System.Security.Cryptography;
using Lstp.EndProxy;
using Lstp.EndProxy.Connect;
using Lstp.Testing;
using Lstp.Transport;
using Lstp.Tunnel.Security;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster.Tests.Support;

/// <summary>The two ends of one tunnel in the test's process, each with its own middle seeds.</summary>
public sealed class EndPair : IAsyncDisposable
{
    private EndPair(int index, EndProxyHost server, EndProxyHost client)
    {
        Index = index;
        Server = server;
        Client = client;
    }

    public int Index { get; }
    public EndProxyHost Server { get; }
    public EndProxyHost Client { get; }

    public bool BothOpen => IsOpen(Server.Supervisor) && IsOpen(Client.Supervisor);

    public static bool IsOpen(TunnelSupervisor supervisor) => supervisor.Current is { } t && !t.Completion.IsCompleted;

    /// <summary>
    /// Starts a server end offering <paramref name="services"/> and a client end forwarding to them. The secret is
    /// a random key (<see cref="TunnelSecret.FromKey"/>), so hundreds of pairs start without PBKDF2's cost.
    /// </summary>
    public static EndPair Start(int index, IReadOnlyList<HostPort> serverSeeds, IReadOnlyList<HostPort> clientSeeds, ILoggerFactory log, IReadOnlyDictionary<string, string>? services = null, bool plaintext = false, Lstp.Transport.Dialing.MiddleTrust? middleTls = null)
    {
        var secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));
        services ??= new Dictionary<string, string>();
        var server = new EndOptions
        {
            Middles = serverSeeds,
            Secret = "unused: the key is given",
            Name = $"server-{index}",
            Services = [.. services.Select(s => new ServiceSpec(s.Key, HostPort.Parse(s.Value)))],
            BackoffMin = TimeSpan.FromMilliseconds(50),
            BackoffMax = TimeSpan.FromSeconds(1),
            Plaintext = plaintext,
            MiddleTls = middleTls,
        };
        var client = server with
        {
            Middles = clientSeeds,
            Name = $"client-{index}",
            Services = [],
            Forwards = [.. services.Keys.Select(name => new ForwardSpec(new HostPort("127.0.0.1", 0), name))],
        };
        var serverHost = EndProxyHost.Start(server, log, secret: secret);
        return new EndPair(index, serverHost, EndProxyHost.Start(client, log, secret: secret));
    }

    public int ForwardPort(string service) => Client.Listeners.Single(l => l.What.EndsWith("=" + service, StringComparison.Ordinal)).Address.Port;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}

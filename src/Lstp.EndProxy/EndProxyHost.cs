using Akka.Actor;
using Lstp.EndProxy.Connect;
using Lstp.EndProxy.EntryPoints;
using Lstp.EndProxy.Helpers;
using Lstp.EndProxy.Policy;
using Lstp.EndProxy.Publish;
using Lstp.EndProxy.Forwards;
using Lstp.EndProxy.Services;
using Lstp.EndProxy.Telemetry;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy;

/// <summary>
/// A running end proxy: its local entry points (bound at start, so mistakes fail fast), the services it
/// offers, and the supervisor that keeps its tunnel to the peer up. The composition root of `lstp end`.
/// </summary>
public sealed class EndProxyHost : IAsyncDisposable
{
    private readonly List<LocalListener> _listeners = [];
    private readonly List<PublishAgent> _agents = [];

    /// <summary>The agents keeping this end's published services open on the middle.</summary>
    public IReadOnlyList<PublishAgent> Publishers => _agents;

    private readonly ActorSystem? _ownSystem;
    private readonly bool _ownsMetrics;

    private EndProxyHost(EndOptions options, TunnelSupervisor supervisor, ActorSystem actors, bool ownsSystem, EndMetrics metrics, bool ownsMetrics)
    {
        Options = options;
        Supervisor = supervisor;
        Actors = actors;
        Metrics = metrics;
        _ownSystem = ownsSystem ? actors : null;
        _ownsMetrics = ownsMetrics;
    }

    /// <summary>This end's instruments (docs/observability.md).</summary>
    public EndMetrics Metrics { get; }

    /// <summary>The actor system this end's tunnels and channels run in.</summary>
    public ActorSystem Actors { get; }

    public EndOptions Options { get; }
    public TunnelSupervisor Supervisor { get; }
    public IReadOnlyList<LocalListener> Listeners => _listeners;

    /// <summary>
    /// Starts an end. Its actors run in <paramref name="actors"/> when given (many ends in one process, as the load
    /// generator runs them), else in an actor system of its own that it terminates when it stops. It reports to
    /// <paramref name="metrics"/> when given (made first, so that its exporters see the end from its first setup; the
    /// caller disposes them), else to metrics of its own.
    /// </summary>
    public static EndProxyHost Start(EndOptions options, ILoggerFactory loggers, IDialer? dialer = null, TunnelSecret? secret = null, ActorSystem? actors = null, EndMetrics? metrics = null)
    {
        var setup = new EndSetup(secret ?? TunnelSecret.FromPassphrase(options.Secret), options.Name, options.User, options.Plaintext);
        var allow = AllowList.Parse(options.Allow);
        var catalog = new ServiceCatalog(options.Services, new DestinationPolicy(allow));
        // --- application helpers (Helpers/): announced in PROPERTY_EXCHANGE; this end's services serve the
        // peer's helpers (control channels tapped, announced data ports granted) through HelperTargets.
        var helpers = ApplicationHelpers.Create(options, loggers);
        TunnelSupervisor? opened = null;
        var targets = helpers.Serve(catalog,
            async ct => (await opened!.WaitForTunnelAsync(HelperLimits.PeerLookup, ct).ConfigureAwait(false))?.Session.PeerProperties, options.Time);
        // --- end of application helpers
        // The allow-list is announced in PROPERTY_EXCHANGE so the peer can refuse early; we still enforce it.
        var properties = new EndProperties(catalog.Names, allow.Patterns, [], helpers.Announcements, options.Compression.Announce());
        dialer ??= TcpDialer.Instance;
        if (options.MiddleTls is { } trust) dialer = new TlsDialer(dialer, trust);
        var ownsSystem = actors is null;
        actors ??= LstpActorSystem.Create("lstp-end", loggers, options.ActorConfig);
        var supervisor = new TunnelSupervisor(options, setup, dialer, targets, properties, loggers, actors);
        opened = supervisor; // application helpers: HelperTargets reads the peer's announcements from it
        var ownsMetrics = metrics is null;
        metrics ??= new EndMetrics();
        metrics.Watch(supervisor, options.Time);
        var host = new EndProxyHost(options, supervisor, actors, ownsSystem, metrics, ownsMetrics);
        var log = loggers.CreateLogger("Lstp.EndProxy");
        try
        {
            foreach (var forward in options.Forwards)
            {
                var entry = new ForwardEntryPoint(forward, supervisor, options.WaitForTunnel, log, helpers.ForForward(forward, supervisor, options.WaitForTunnel));
                host._listeners.Add(new LocalListener(forward.Listen, $"forward {forward.Listen}={forward.Service}", entry.OnClientAsync, log));
            }
            var credentials = ParseCredentials(options.ProxyAuth);
            if (options.Socks is { } socks)
            {
                RequireLoopbackOrCredentials(socks, "--socks", credentials);
                var entry = new SocksEntryPoint(supervisor, credentials, options.WaitForTunnel, log)
                {
                    HandshakeTimeout = options.EntryPointHandshakeTimeout,
                    MaxHandshakes = options.MaxEntryPointHandshakes,
                };
                host._listeners.Add(new LocalListener(socks, $"socks {socks}", entry.OnClientAsync, log));
            }
            if (options.HttpProxy is { } http)
            {
                RequireLoopbackOrCredentials(http, "--http-proxy", credentials);
                var entry = new HttpProxyEntryPoint(supervisor, credentials, options.WaitForTunnel, log)
                {
                    HandshakeTimeout = options.EntryPointHandshakeTimeout,
                    MaxHandshakes = options.MaxEntryPointHandshakes,
                };
                host._listeners.Add(new LocalListener(http, $"http-proxy {http}", entry.OnClientAsync, log));
            }
        }
        catch
        {
            foreach (var listener in host._listeners) listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
            host._ownSystem?.Terminate().Wait(TimeSpan.FromSeconds(5));
            throw;
        }
        foreach (var publish in options.Publish)
        {
            var service = options.Services.FirstOrDefault(s => s.Name == publish.Service)
                ?? throw new FormatException($"--publish '{publish.Service}={publish.Port}': this end offers no service '{publish.Service}' (add --service {publish.Service}=HOST:PORT)");
            var agent = new PublishAgent(publish, service, options, dialer, loggers.CreateLogger("Lstp.EndProxy.Publish"), actors);
            host._agents.Add(agent);
            agent.Start();
        }
        // An end that only publishes has no peer end: it keeps no tunnel registration waiting at the middle.
        var onlyPublishes = options.Publish.Count > 0 && options.Forwards.Count == 0 && options.Socks is null && options.HttpProxy is null
            && options.Services.All(s => options.Publish.Any(p => p.Service == s.Name));
        if (!onlyPublishes) supervisor.Start();
        return host;
    }

    /// <summary>
    /// A SOCKS or HTTP CONNECT entry point reaches into the peer's network: off loopback, anyone who can connect to
    /// it could use the tunnel, so it needs --proxy-auth there (as the admin endpoint needs its token).
    /// </summary>
    private static void RequireLoopbackOrCredentials(HostPort listen, string flag, EntryPointCredentials? credentials)
    {
        if (credentials is null && !IsLoopback(listen))
        {
            throw new FormatException($"{flag} {listen}: not a loopback address, so anyone who reaches it could use the tunnel into the peer's network; add --proxy-auth USER:PASS or listen on 127.0.0.1");
        }
    }

    /// <summary>Whether a local entry point listens where only this host's own processes reach it.</summary>
    public static bool IsLoopback(HostPort listen) =>
        listen.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(listen.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip));

    private static EntryPointCredentials? ParseCredentials(string? userPass)
    {
        if (userPass is null) return null;
        var colon = userPass.IndexOf(':');
        if (colon <= 0 || colon == userPass.Length - 1) throw new FormatException("--proxy-auth: expected USER:PASS");
        return new EntryPointCredentials(userPass[..colon], userPass[(colon + 1)..]);
    }

    /// <summary>Sends SHUTDOWN, closes channels cleanly, closes the listeners.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents) await agent.DisposeAsync().ConfigureAwait(false);
        await Supervisor.DisposeAsync().ConfigureAwait(false);
        foreach (var listener in _listeners) await listener.DisposeAsync().ConfigureAwait(false);
        if (_ownSystem is not null) await _ownSystem.Terminate().ConfigureAwait(false);
        if (_ownsMetrics) Metrics.Dispose();
    }
}

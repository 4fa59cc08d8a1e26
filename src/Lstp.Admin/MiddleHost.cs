using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lstp.Admin.Access;
using Lstp.Admin.Dashboard;
using Lstp.Admin.Hosting;
using Lstp.Admin.Telemetry;
using Lstp.Admin.Views;
using Lstp.Middle;
using Lstp.Middle.Links;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Transport;
using Lstp.Tunnel.Actors;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lstp.Admin;

/// <summary>
/// A running middle: its link listener (<see cref="LinkListener"/>) and Kestrel for the admin endpoint (dashboard,
/// health, metrics, JSON API), in one host. The composition root of `lstp middle`, the demo and
/// the scenario tests.
/// </summary>
public sealed class MiddleHost : IAsyncDisposable
{
    /// <summary>Kestrel for the admin endpoint, started only when there is one (<see cref="AdminAddress"/>).</summary>
    private readonly WebApplication _app;
    private readonly StatusFeed _feed;
    private readonly NodeTelemetry _telemetry;

    private readonly bool _ownsActors;

    private readonly LinkListener _links;

    private MiddleHost(WebApplication app, LinkListener links, StatusFeed feed, NodeTelemetry telemetry, MiddleNode node, HostPort link, HostPort? admin, ActorSystem actors, bool ownsActors)
    {
        _links = links;
        _telemetry = telemetry;
        Actors = actors;
        _ownsActors = ownsActors;
        _app = app;
        _feed = feed;
        Node = node;
        LinkAddress = link;
        AdminAddress = admin;
    }

    public MiddleNode Node { get; }

    /// <summary>The actor system the middle's actors (the pairing registry) run in.</summary>
    public ActorSystem Actors { get; }

    /// <summary>Where ends dial in, with the port actually bound.</summary>
    public HostPort LinkAddress { get; }

    /// <summary>The admin endpoint with its bound port; null when it is off.</summary>
    public HostPort? AdminAddress { get; }

    /// <summary>Starts a middle whose admin endpoint, if any, listens on loopback without credentials.</summary>
    public static Task<MiddleHost> StartAsync(MiddleOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default) =>
        StartAsync(options, loggerFactory, AdminAccess.LoopbackOnly, cancellationToken);

    /// <summary>
    /// Starts a middle whose admin endpoint requires <paramref name="access"/>. Refuses (ArgumentException) to
    /// bind the admin endpoint off loopback without credentials.
    /// </summary>
    public static Task<MiddleHost> StartAsync(MiddleOptions options, ILoggerFactory loggerFactory, AdminAccess access, CancellationToken cancellationToken = default) =>
        StartAsync(options, loggerFactory, access, actors: null, cancellationToken);

    /// <summary>
    /// As above, running the middle's actors in <paramref name="actors"/> (a cluster node's system, which its owner
    /// stops); null: the host makes its own and stops it with itself.
    /// </summary>
    public static async Task<MiddleHost> StartAsync(MiddleOptions options, ILoggerFactory loggerFactory, AdminAccess access, ActorSystem? actors, CancellationToken cancellationToken = default)
    {
        var adminEndPoint = options.Admin is { } asked ? ListenAddress.Resolve(asked) : null;
        if (adminEndPoint is not null) access.EnsureAllowedOn(adminEndPoint.Address, $"--admin {options.Admin}");
        var loggers = new QuietFrameworkLogs(loggerFactory);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerFactory>(loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        var linkCertificate = LoadCertificate(options);
        var ownsActors = actors is null;
        actors ??= LstpActorSystem.Create("lstp-middle", loggers, options.ActorConfig);
        var registry = options.RegistryFactory?.Invoke(options, loggers) ?? new InMemoryPairingRegistry(actors, options, loggers.CreateLogger("Lstp.Middle.Pairing"));
        var node = new MiddleNode(options, registry, loggers);
        var telemetry = NodeTelemetry.Start(node.Metrics.Meter, "lstp-middle", options.Name, options.Otlp);
        node.StartLinks(actors);
        builder.Services.AddSingleton(node);

        ListenOptions? adminListen = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (adminEndPoint is not null)
            {
                kestrel.Listen(adminEndPoint, listen =>
                {
                    adminListen = listen;
                    listen.Protocols = HttpProtocols.Http1;
                });
            }
        });
        var app = builder.Build();
        var feed = new StatusFeed(node, loggers.CreateLogger("Lstp.Admin"));
        node.Metrics.ErrorSent += feed.OnErrorSent;
        CredentialCheck.Install(app, access, loggers.CreateLogger("Lstp.Admin.Access"));
        LoopbackHostCheck.Install(app, access, loggers.CreateLogger("Lstp.Admin.Access"));
        telemetry.MapScrapeEndpoint(app);
        app.MapLstpAdmin(node, feed);
        LinkListener? links = null;
        try
        {
            // Links on the middle's own listener (LinkListener says why not Kestrel's transport); the admin endpoint on Kestrel.
            links = LinkListener.Start(ListenAddress.Resolve(options.Listen), node, new LinkHandler(node, loggers.CreateLogger<LinkHandler>()), linkCertificate, loggers.CreateLogger("Lstp.Middle.Links"));
            // With the admin endpoint off Kestrel has nothing to listen on (started, it would take localhost:5000).
            if (adminEndPoint is not null) await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            if (links is not null) await links.DisposeAsync().ConfigureAwait(false);
            await feed.DisposeAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            if (registry is IAsyncDisposable disposable) await disposable.DisposeAsync().ConfigureAwait(false);
            if (ownsActors) await actors.Terminate().ConfigureAwait(false);
            telemetry.Dispose();
            node.Metrics.Dispose();
            throw new InvalidOperationException($"cannot listen: {ex.Message}", ex);
        }
        var link = ListenAddress.Bound(links.EndPoint, options.Listen);
        node.BoundAddress = link.ToString();
        var adminBound = adminListen is null ? (HostPort?)null : ListenAddress.Bound(adminListen, options.Admin!.Value);
        return new MiddleHost(app, links, feed, telemetry, node, link, adminBound, actors, ownsActors);
    }

    private static X509Certificate2? LoadCertificate(MiddleOptions options)
    {
        if (options.TlsCertificate is null && options.TlsKey is null) return null;
        if (options.TlsCertificate is null || options.TlsKey is null) throw new ArgumentException("--tls-cert and --tls-key go together");
        try
        {
            return X509Certificate2.CreateFromPemFile(options.TlsCertificate, options.TlsKey);
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--tls-cert/--tls-key: cannot load {options.TlsCertificate}: {ex.Message}");
        }
    }

    /// <summary>Lists the cluster's members on the dashboard and in /api/status (read once per tick); without it the node shows alone.</summary>
    public void ShowCluster(Func<IReadOnlyList<ClusterMemberInfo>> members) => _feed.Members = members;

    /// <summary>Stops accepting links and stops the admin endpoint; open links go on until <see cref="DisposeAsync"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _links.StopAcceptingAsync().ConfigureAwait(false);
        if (AdminAddress is not null) await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Links are long-lived: give them a moment to close, then abort what is left.
        await _links.DisposeAsync().ConfigureAwait(false);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            if (AdminAddress is not null)
            {
                try { await _app.StopAsync(timeout.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        await _feed.DisposeAsync().ConfigureAwait(false);
        if (Node.Registry is IAsyncDisposable registry) await registry.DisposeAsync().ConfigureAwait(false);
        if (_ownsActors) await Actors.Terminate().ConfigureAwait(false);
        _telemetry.Dispose(); // the last export to an OTLP collector, with the final counts
        Node.Metrics.Dispose();
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lstp.Admin.Access;
using Lstp.Admin.Dashboard;
using Lstp.Admin.Hosting;
using Lstp.Admin.Telemetry;
using Lstp.Admin.Views;
using Lstp.Middle;
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
/// A running middle: Kestrel listening for links (the LSTP connection handler) and for the admin endpoint
/// (dashboard, health, metrics, JSON API), in one host. The composition root of `lstp middle`, the demo and
/// the scenario tests.
/// </summary>
public sealed class MiddleHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly StatusFeed _feed;
    private readonly NodeTelemetry _telemetry;

    private readonly bool _ownsActors;

    private MiddleHost(WebApplication app, StatusFeed feed, NodeTelemetry telemetry, MiddleNode node, HostPort link, HostPort? admin, ActorSystem actors, bool ownsActors)
    {
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

    /// <summary>Where ends dial in, with the port Kestrel actually bound.</summary>
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
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>, RelayMemoryPoolFactory>();

        ListenOptions? linkListen = null;
        ListenOptions? adminListen = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(ListenAddress.Resolve(options.Listen), listen =>
            {
                linkListen = listen;
                if (linkCertificate is not null)
                {
                    // A TLS handshake costs the middle CPU before a single LSTP byte, so the per-source rate limit is
                    // checked before it; a connection over the limit is closed without one (no ERROR can reach it yet).
                    listen.Use(next => connection =>
                    {
                        var source = LinkSession.SourceOf(connection.RemoteEndPoint?.ToString() ?? "unknown");
                        // A publishing agent's data links and a neighbour middle's node links are not counted (ExemptFromRate).
                        if (!node.ExemptFromRate(source) && !node.RateLimiter.TryAcquire(source))
                        {
                            node.Metrics.Error(Protocol.ErrorCode.RateLimited, $"too many new connections from {source}, before TLS", source);
                            connection.Abort(new ConnectionAbortedException("rate limited before the TLS handshake"));
                            return Task.CompletedTask;
                        }
                        connection.Items[LinkSession.RateCheckedItem] = true;
                        return next(connection);
                    });
                    listen.UseHttps(linkCertificate);
                }
                listen.UseConnectionHandler<LinkHandler>();
            });
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
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await feed.DisposeAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            if (registry is IAsyncDisposable disposable) await disposable.DisposeAsync().ConfigureAwait(false);
            if (ownsActors) await actors.Terminate().ConfigureAwait(false);
            telemetry.Dispose();
            node.Metrics.Dispose();
            throw new InvalidOperationException($"cannot listen: {ex.Message}", ex);
        }
        var link = ListenAddress.Bound(linkListen!, options.Listen);
        node.BoundAddress = link.ToString();
        var adminBound = adminListen is null ? (HostPort?)null : ListenAddress.Bound(adminListen, options.Admin!.Value);
        return new MiddleHost(app, feed, telemetry, node, link, adminBound, actors, ownsActors);
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

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Links are long-lived: give them a moment to close, then Kestrel aborts what is left.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            try { await _app.StopAsync(timeout.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        await _feed.DisposeAsync().ConfigureAwait(false);
        if (Node.Registry is IAsyncDisposable registry) await registry.DisposeAsync().ConfigureAwait(false);
        if (_ownsActors) await Actors.Terminate().ConfigureAwait(false);
        _telemetry.Dispose(); // the last export to an OTLP collector, with the final counts
        Node.Metrics.Dispose();
    }
}

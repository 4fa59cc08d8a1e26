using Lstp.Admin.Access;
using Lstp.Admin.Hosting;
using Lstp.Admin.Telemetry;
using Lstp.EndProxy;
using Lstp.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lstp.Admin.End;

/// <summary>
/// An end proxy's admin endpoint (`lstp end --admin HOST:PORT`): /healthz, Prometheus /metrics, and /api/end,
/// the end's own view of its tunnel. The same access rules as the middle's: loopback, or credentials.
/// </summary>
public sealed class EndAdmin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NodeTelemetry? _ownTelemetry;

    private EndAdmin(WebApplication app, HostPort address, NodeTelemetry? ownTelemetry)
    {
        _app = app;
        Address = address;
        _ownTelemetry = ownTelemetry;
    }

    /// <summary>Where the endpoint listens, with the port actually bound.</summary>
    public HostPort Address { get; }

    public static Task<EndAdmin> StartAsync(EndProxyHost host, HostPort address, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default) =>
        StartAsync(host, address, AdminAccess.LoopbackOnly, loggerFactory, cancellationToken);

    /// <summary>
    /// Starts the endpoint with telemetry of its own over the end's metrics, begun now (`lstp end` begins the end's
    /// telemetry before the end, and passes it). Refuses (ArgumentException) to bind off loopback without credentials.
    /// </summary>
    public static async Task<EndAdmin> StartAsync(EndProxyHost host, HostPort address, AdminAccess access, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        var telemetry = NodeTelemetry.Start(host.Metrics.Meter, "lstp-end", host.Options.Name, otlp: null);
        try
        {
            return await StartAsync(host, address, access, telemetry, loggerFactory, ownsTelemetry: true, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            telemetry.Dispose();
            throw;
        }
    }

    /// <summary>Starts the endpoint, its /metrics collected from <paramref name="telemetry"/> (which the caller disposes).</summary>
    public static Task<EndAdmin> StartAsync(EndProxyHost host, HostPort address, AdminAccess access, NodeTelemetry telemetry, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default) =>
        StartAsync(host, address, access, telemetry, loggerFactory, ownsTelemetry: false, cancellationToken);

    private static async Task<EndAdmin> StartAsync(EndProxyHost host, HostPort address, AdminAccess access, NodeTelemetry telemetry, ILoggerFactory loggerFactory, bool ownsTelemetry, CancellationToken cancellationToken)
    {
        var endPoint = ListenAddress.Resolve(address);
        access.EnsureAllowedOn(endPoint.Address, $"--admin {address}");
        var loggers = new QuietFrameworkLogs(loggerFactory);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerFactory>(loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        ListenOptions? bound = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(endPoint, listen =>
            {
                bound = listen;
                listen.Protocols = HttpProtocols.Http1;
            });
        });
        var app = builder.Build();
        CredentialCheck.Install(app, access, loggers.CreateLogger("Lstp.Admin.Access"));
        LoopbackHostCheck.Install(app, access, loggers.CreateLogger("Lstp.Admin.Access"));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        telemetry.MapScrapeEndpoint(app);
        app.MapGet("/api/end", () => Results.Json(EndView.From(host)));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"cannot listen: --admin {address}: {ex.Message}", ex);
        }
        return new EndAdmin(app, ListenAddress.Bound(bound!, address), ownsTelemetry ? telemetry : null);
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            try { await _app.StopAsync(timeout.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        _ownTelemetry?.Dispose();
    }
}

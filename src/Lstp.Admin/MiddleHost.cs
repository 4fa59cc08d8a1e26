using System.Net;
using Lstp.Middle;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lstp.Admin;

/// <summary>
/// A running middle: Kestrel listening for links (the LSTP connection handler) and for the admin endpoint,
/// in one host. The composition root of `lstp middle`, the demo and the scenario tests.
/// </summary>
public sealed class MiddleHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MiddleHost(WebApplication app, MiddleNode node, HostPort link, HostPort? admin)
    {
        _app = app;
        Node = node;
        LinkAddress = link;
        AdminAddress = admin;
    }

    public MiddleNode Node { get; }

    /// <summary>Where ends dial in, with the port Kestrel actually bound.</summary>
    public HostPort LinkAddress { get; }

    public HostPort? AdminAddress { get; }

    public static async Task<MiddleHost> StartAsync(MiddleOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        var registry = new InMemoryPairingRegistry(options, loggerFactory.CreateLogger("Lstp.Middle.Pairing"));
        var node = new MiddleNode(options, registry);
        builder.Services.AddSingleton(node);

        var linkCertificate = LoadCertificate(options);
        ListenOptions? linkListen = null;
        ListenOptions? adminListen = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(ToEndPoint(options.Listen), listen =>
            {
                linkListen = listen;
                if (linkCertificate is not null) listen.UseHttps(linkCertificate);
                listen.UseConnectionHandler<LinkHandler>();
            });
            if (options.Admin is { } admin)
            {
                kestrel.Listen(ToEndPoint(admin), listen =>
                {
                    adminListen = listen;
                    listen.Protocols = HttpProtocols.Http1;
                });
            }
        });
        var app = builder.Build();
        app.MapLstpAdmin(node);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await registry.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"cannot listen: {ex.Message}", ex);
        }
        var link = Bound(linkListen!, options.Listen);
        node.BoundAddress = link.ToString();
        var adminBound = adminListen is null ? (HostPort?)null : Bound(adminListen, options.Admin!.Value);
        return new MiddleHost(app, node, link, adminBound);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? LoadCertificate(MiddleOptions options)
    {
        if (options.TlsCertificate is null && options.TlsKey is null) return null;
        if (options.TlsCertificate is null || options.TlsKey is null) throw new ArgumentException("--tls-cert and --tls-key go together");
        try
        {
            return System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(options.TlsCertificate, options.TlsKey);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--tls-cert/--tls-key: cannot load {options.TlsCertificate}: {ex.Message}");
        }
    }

    private static HostPort Bound(ListenOptions listen, HostPort asked) =>
        listen.EndPoint is IPEndPoint ip ? new HostPort(asked.Host, ip.Port) : asked;

    private static IPEndPoint ToEndPoint(HostPort address)
    {
        if (IPAddress.TryParse(address.Host, out var ip)) return new IPEndPoint(ip, address.Port);
        if (address.Host == "localhost") return new IPEndPoint(IPAddress.Loopback, address.Port);
        var resolved = Dns.GetHostAddresses(address.Host);
        if (resolved.Length == 0) throw new InvalidOperationException($"cannot resolve listen address {address}");
        return new IPEndPoint(resolved[0], address.Port);
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        // Links are long-lived: give them a moment to close, then Kestrel aborts what is left.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            try { await _app.StopAsync(timeout.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        if (Node.Registry is IAsyncDisposable registry) await registry.DisposeAsync().ConfigureAwait(false);
    }
}

using Akka.Actor;
using Lstp.Admin;
using Lstp.Admin.Access;
using Lstp.Cli.Commands;
using Lstp.Cluster;
using Lstp.Middle;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Hosting;

/// <summary>What `lstp middle` parsed: the middle's options, its cluster (null for a lone middle), its admin access.</summary>
internal sealed record MiddleRoleSettings(MiddleOptions Options, ClusterPlan? Cluster, AdminAccess Access);

/// <summary>
/// `lstp middle` on the host's actor system: joins the cluster when asked, then opens the link listener and the admin
/// endpoint. Stopping (SIGTERM) drains a cluster node (its ends move, busy tunnels get the grace period), closes
/// the listener and leaves the cluster; Akka.Hosting's coordinated shutdown runs after.
/// </summary>
internal sealed partial class MiddleRole(MiddleRoleSettings settings, ActorSystem actors, ILoggerFactory loggers) : IHostedService
{
    private readonly ILogger _log = loggers.CreateLogger("Lstp.Cli");
    private bool _started;
    private ClusterNode? _cluster;
    private MiddleHost? _middle;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LstpActorSystem.Started(actors);
        var options = settings.Options;
        if (settings.Cluster is { } plan)
        {
            _cluster = await ClusterSetup.JoinAsync(plan, actors, loggers, cancellationToken).ConfigureAwait(false);
            options = _cluster.Options;
        }
        _middle = await MiddleHost.StartAsync(options, loggers, settings.Access, actors, cancellationToken).ConfigureAwait(false);
        if (_cluster is { } node) _middle.ShowCluster(() => ClusterFlags.Members(node));
        Log.Listening(_log, options.Name, _middle.LinkAddress.ToString(), _middle.AdminAddress?.ToString() ?? "off",
            options.Tokens.Count > 0 ? $"{options.Tokens.Count} admission token(s) required" : "open (no --token)");
        if (options.TlsCertificate is not null)
        {
            using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(options.TlsCertificate, options.TlsKey);
            Log.LinkTls(_log, MiddleTrust.FingerprintOf(certificate));
        }
        _started = true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_started) Log.Stopping(_log, settings.Options.Name);
        if (_cluster is { } node && _middle is { } middle) await node.DrainAsync(middle.Node, cancellationToken).ConfigureAwait(false);
        if (_middle is not null) await _middle.DisposeAsync().ConfigureAwait(false);
        if (_cluster is not null) await _cluster.DisposeAsync().ConfigureAwait(false); // leaves the cluster
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "middle {Name} listening on {Link}; admin on {Admin}; {Admission}")]
        public static partial void Listening(ILogger logger, string name, string link, string admin, string admission);

        [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "link TLS on; ends can pin this middle with --middle-fingerprint {Fingerprint}")]
        public static partial void LinkTls(ILogger logger, string fingerprint);

        [LoggerMessage(EventId = 802, Level = LogLevel.Information, Message = "middle {Name} stopping")]
        public static partial void Stopping(ILogger logger, string name);
    }
}

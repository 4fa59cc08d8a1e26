using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Sharding;
using Akka.Remote.Transport.DotNetty;
using Lstp.Cluster.Membership;
using Lstp.Cluster.Pairing;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Actors;
using Microsoft.Extensions.Logging;

namespace Lstp.Cluster;

/// <summary>The node could not join the cluster through its seeds in time (exit 1: an outage, not a configuration mistake).</summary>
public sealed class ClusterUnavailableException(string message) : Exception(message);

/// <summary>A checked cluster node's settings, and the HOCON and setups its actor system starts with.</summary>
public sealed record ClusterPlan(ClusterOptions Cluster, MiddleOptions Middle, HostPort Link, X509Certificate2? Certificate, Akka.Configuration.Config Config, Setup[] Setups)
{
    /// <summary>The actor system's name, the same on every node (it is part of each node's cluster address).</summary>
    public string SystemName => ClusterHocon.SystemName;
}

/// <summary>
/// The one call that makes a middle a cluster node (`lstp middle --cluster SEEDS --advertise HOST:PORT`): checks the
/// options, starts the node's actor system with remoting (mutual TLS pinned to the cluster certificate), joins
/// through the seeds, and starts the sharded pairing registry and the member list. Configuration mistakes throw
/// <see cref="ArgumentException"/> (exit 2); seeds that never let the node in throw <see cref="ClusterUnavailableException"/>.
/// </summary>
public static partial class ClusterSetup
{
    /// <summary>Checks the options and creates the node's own actor system, then joins (tests and embedders).</summary>
    public static async Task<ClusterNode> JoinAsync(ClusterOptions cluster, MiddleOptions middle, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var plan = Plan(cluster, middle);
        var system = LstpActorSystem.Create(ClusterHocon.SystemName, loggers, plan.Config, plan.Setups);
        return await JoinAsync(plan, system, loggers, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything that can be checked before an actor system exists: the configuration mistakes throw
    /// <see cref="ArgumentException"/> here, and the result configures the system (HOCON and the TLS setup).
    /// </summary>
    public static ClusterPlan Plan(ClusterOptions cluster, MiddleOptions middle)
    {
        if (middle.Upstream is not null) throw new ArgumentException("--cluster and --upstream exclude each other: a cluster node hands ends on through the cluster");
        if (cluster.Advertise.Port == 0) throw new ArgumentException($"--advertise {cluster.Advertise}: other nodes need a real port");
        if (IPAddress.TryParse(cluster.Advertise.Host.Trim('[', ']'), out var any) && (any.Equals(IPAddress.Any) || any.Equals(IPAddress.IPv6Any)))
        {
            throw new ArgumentException($"--advertise {cluster.Advertise}: other nodes need an address they can dial (this host's name or address), not a wildcard");
        }
        var link = LinkAddressOf(middle, cluster);
        var certificate = LoadCertificate(cluster);
        // The config file's akka section, if any, wins over what the flags made of the cluster.
        var config = ClusterHocon.Create(cluster, tls: certificate is not null);
        if (middle.ActorConfig is { } fromFile) config = fromFile.WithFallback(config);
        return new ClusterPlan(cluster, middle, link, certificate, config, certificate is null ? [] : [TlsSetup(certificate)]);
    }

    /// <summary>
    /// Joins through the seeds on a system configured from <paramref name="plan"/>, then starts the sharded pairing
    /// registry and the member list. Seeds that never let the node in throw <see cref="ClusterUnavailableException"/>;
    /// the system is terminated on any failure.
    /// </summary>
    public static async Task<ClusterNode> JoinAsync(ClusterPlan plan, ActorSystem system, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var log = loggers.CreateLogger("Lstp.Cluster");
        var (cluster, middle, link, certificate) = (plan.Cluster, plan.Middle, plan.Link, plan.Certificate);
        try
        {
            var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var akkaCluster = Akka.Cluster.Cluster.Get(system);
            akkaCluster.RegisterOnMemberUp(() => joined.TrySetResult());
            try
            {
                await joined.Task.WaitAsync(cluster.JoinTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new ClusterUnavailableException(
                    $"could not join the cluster through {string.Join(", ", cluster.Seeds)} within {cluster.JoinTimeout.TotalSeconds:0} s " +
                    "(are the seeds running, do they advertise exactly these addresses, and do all nodes hold the same --cluster-cert?)");
            }

            var members = new ClusterMembers();
            var self = new NodeInfo(middle.Name, link.ToString(), Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), LinkFingerprintOf(middle));
            system.ActorOf(ClusterMembersActor.Props(self, members), ClusterMembersActor.Name);
            var region = await ClusterSharding.Get(system).StartAsync(
                "pairing", PairingKeyEntity.Props(), ClusterShardingSettings.Create(system), new PairingKeyExtractor()).ConfigureAwait(false);
            Log.Joined(log, middle.Name, ClusterHocon.Address(cluster.Advertise, certificate is not null), link.ToString(), certificate is null ? "plaintext on loopback" : "mutual TLS");
            return new ClusterNode(cluster, middle, system, region, members, self, link, certificate, log);
        }
        catch
        {
            await system.Terminate().ConfigureAwait(false);
            certificate?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Mutual TLS on every cluster connection, each side presenting the shared certificate and accepting only a peer
    /// that presents the same one (pinned by thumbprint: the certificate is self-signed, no authority is asked).
    /// </summary>
    private static DotNettySslSetup TlsSetup(X509Certificate2 certificate) => new(
        certificate,
        suppressValidation: false,
        requireMutualAuthentication: true,
        validateCertificateHostname: false,
        customValidator: CertificateValidation.PinnedCertificate(certificate.Thumbprint));

    private static X509Certificate2? LoadCertificate(ClusterOptions cluster)
    {
        if (cluster.CertificateFile is { } file) return ClusterCertificate.Load(file);
        if (IsLoopback(cluster.Advertise.Host)) return null;
        throw new ArgumentException(
            $"--advertise {cluster.Advertise} is reachable from other machines: give --cluster-cert FILE (create it once with `lstp cluster-cert FILE` and copy it to every node), so that only nodes holding it can join");
    }

    /// <summary>
    /// Where other nodes dial this one's link listener: --public, else the listen address when it names a host and
    /// port, else the advertised cluster host with the listen port.
    /// </summary>
    private static HostPort LinkAddressOf(MiddleOptions middle, ClusterOptions cluster)
    {
        if (middle.PublicAddress is { } text)
        {
            if (!HostPort.TryParse(text, out var address, out var error)) throw new ArgumentException($"--public: {error}");
            if (address.Port == 0) throw new ArgumentException($"--public {text}: ends and other nodes need a real port");
            return address;
        }
        var listen = middle.Listen;
        if (listen.Port == 0) throw new ArgumentException($"--listen {listen}: a cluster node needs a fixed port (or --public HOST:PORT), since other nodes dial it");
        var wildcard = IPAddress.TryParse(listen.Host.Trim('[', ']'), out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));
        return wildcard ? new HostPort(cluster.Advertise.Host, listen.Port) : listen;
    }

    /// <summary>The fingerprint other nodes pin when they dial this node's TLS link listener; null without --tls-cert.</summary>
    private static string? LinkFingerprintOf(MiddleOptions middle)
    {
        if (middle.TlsCertificate is null || middle.TlsKey is null) return null;
        try
        {
            using var certificate = X509Certificate2.CreateFromPemFile(middle.TlsCertificate, middle.TlsKey);
            return MiddleTrust.FingerprintOf(certificate);
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--tls-cert/--tls-key: cannot load {middle.TlsCertificate}: {ex.Message}");
        }
    }

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static partial class Log
    {
        [LoggerMessage(EventId = 640, Level = LogLevel.Information, Message = "{Name} joined the cluster as {Address}; its links at {Link}; cluster traffic: {Security}")]
        public static partial void Joined(ILogger logger, string name, string address, string link, string security);
    }
}

using System.Net;
using Lstp.Cluster.Membership;
using Lstp.Cluster.Store;
using Lstp.Middle;
using Lstp.Transport;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Lstp.Cluster;

/// <summary>
/// The one call that makes a middle a cluster node (`lstp middle --cluster CONNSTRING --advertise HOST:PORT`):
/// checks the options, reaches the database (retrying while it starts), creates or migrates the schema, reads
/// or creates the cluster secret, and joins. Configuration mistakes throw <see cref="ArgumentException"/>
/// (exit 2); a database that stays unreachable throws <see cref="ClusterUnavailableException"/>.
/// </summary>
public static partial class ClusterSetup
{
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(1);

    public static async Task<ClusterNode> JoinAsync(ClusterOptions cluster, MiddleOptions middle, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var log = loggers.CreateLogger("Lstp.Cluster");
        if (middle.Upstream is not null) throw new ArgumentException("--cluster and --upstream exclude each other: a cluster node hands ends on through the cluster");
        if (cluster.Secret is { } given && string.IsNullOrWhiteSpace(given)) throw new ArgumentException("--cluster-secret: an empty secret is not allowed");
        var advertise = AdvertiseOf(middle);

        var database = ClusterDatabase.Open(cluster.ConnectionString, middle.Name, log);
        try
        {
            var secret = await WithRetriesAsync(async ct =>
            {
                await database.MigrateAsync(ct).ConfigureAwait(false);
                return cluster.Secret ?? await database.ClusterSecretAsync(ct).ConfigureAwait(false);
            }, database, cluster.StartupTimeout, log, cancellationToken).ConfigureAwait(false);

            var membership = new ClusterMembership(database, cluster, Guid.NewGuid(), middle.Name, advertise, loggers.CreateLogger("Lstp.Cluster.Membership"));
            await WithRetriesAsync(async ct => { await membership.JoinAsync(ct).ConfigureAwait(false); return true; }, database, cluster.StartupTimeout, log, cancellationToken).ConfigureAwait(false);
            return new ClusterNode(cluster, middle, database, membership, secret, log);
        }
        catch
        {
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Where other nodes dial this one: --advertise, or a listen address that names a reachable host and port.</summary>
    private static string AdvertiseOf(MiddleOptions middle)
    {
        if (middle.Advertise is { } text)
        {
            if (!HostPort.TryParse(text, out var address, out var error)) throw new ArgumentException($"--advertise: {error}");
            if (address.Port == 0) throw new ArgumentException($"--advertise {text}: other nodes need a real port");
            return address.ToString();
        }
        var listen = middle.Listen;
        var wildcard = IPAddress.TryParse(listen.Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));
        if (wildcard || listen.Port == 0)
        {
            throw new ArgumentException($"--cluster needs --advertise HOST:PORT: the address other nodes of the cluster dial to reach this one (--listen {listen} does not say)");
        }
        return listen.ToString();
    }

    private static async Task<T> WithRetriesAsync<T>(Func<CancellationToken, Task<T>> attempt, ClusterDatabase database, TimeSpan timeout, ILogger log, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var logged = false;
        while (true)
        {
            try
            {
                return await attempt(cancellationToken).ConfigureAwait(false);
            }
            catch (ClusterUnavailableException ex) when (DateTime.UtcNow + Retry < deadline)
            {
                if (!logged) Log.WaitingForDatabase(log, database.Describe, ex.InnerException?.Message ?? ex.Message, timeout.TotalSeconds);
                logged = true;
            }
            catch (PostgresException ex) when (ex.SqlState.StartsWith("28", StringComparison.Ordinal) || ex.SqlState == "3D000" || ex.SqlState == "42501")
            {
                // Wrong password, no such database, no permission: configuration, not an outage.
                throw new ArgumentException($"--cluster: {database.Describe}: {ex.MessageText}");
            }
            catch (ClusterSchemaException ex)
            {
                throw new ArgumentException($"--cluster: {ex.Message}");
            }
            await Task.Delay(Retry, cancellationToken).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 640, Level = LogLevel.Warning, Message = "waiting for the cluster database {Database} ({Reason}); giving up after {Seconds:0} s")]
        public static partial void WaitingForDatabase(ILogger logger, string database, string reason, double seconds);
    }
}

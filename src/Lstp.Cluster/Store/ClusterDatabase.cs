using System.Data.Common;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Lstp.Cluster.Store;

/// <summary>
/// The cluster's shared state in PostgreSQL: every statement the cluster runs, in one place, and whether the
/// database answers now. A failure to reach it is a value the callers act on (<see cref="ClusterUnavailableException"/>,
/// <see cref="Reachable"/>); any other database error is a bug and propagates as it is.
/// </summary>
public sealed partial class ClusterDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly NpgsqlDataSource _listenSource;
    private readonly ILogger _log;
    private int _reachable = 1;

    private ClusterDatabase(NpgsqlDataSource source, NpgsqlDataSource listenSource, string describe, ILogger log)
    {
        _source = source;
        _listenSource = listenSource;
        Describe = describe;
        _log = log;
    }

    /// <summary>Host, port and database, for log lines: never the password.</summary>
    public string Describe { get; }

    /// <summary>False from the first failed statement until one succeeds again.</summary>
    public bool Reachable => Volatile.Read(ref _reachable) == 1;

    /// <summary>Raised when <see cref="Reachable"/> changes (true: the database is back).</summary>
    public event Action<bool>? ReachabilityChanged;

    /// <summary>
    /// Opens the cluster's database with our defaults for what the user did not set: short connect and command
    /// timeouts (a registration must fail fast, not hang), a bounded pool, and an application name.
    /// </summary>
    public static ClusterDatabase Open(string connectionString, string nodeName, ILogger log)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException($"--cluster: not a PostgreSQL connection string ({ex.Message})");
        }
        var given = GivenKeys(connectionString);
        if (!given.Contains("timeout")) builder.Timeout = ClusterTimings.ConnectTimeoutSeconds;
        if (!given.Contains("commandtimeout")) builder.CommandTimeout = ClusterTimings.CommandTimeoutSeconds;
        if (!given.Contains("maxpoolsize") && !given.Contains("maximumpoolsize")) builder.MaxPoolSize = ClusterTimings.MaxPoolSize;
        if (!given.Contains("applicationname")) builder.ApplicationName = $"lstp middle {nodeName}";
        var describe = $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";

        var listen = new NpgsqlConnectionStringBuilder(builder.ConnectionString)
        {
            Pooling = false,
            KeepAlive = ClusterTimings.KeepaliveSeconds,
        };
        return new ClusterDatabase(NpgsqlDataSource.Create(builder), NpgsqlDataSource.Create(listen), describe, log);
    }

    private static HashSet<string> GivenKeys(string connectionString)
    {
        var raw = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return [.. raw.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant())];
    }

    // ---- schema and settings -------------------------------------------------------------------------------

    public Task MigrateAsync(CancellationToken cancellationToken) =>
        RunAsync(async (connection, ct) => { await Schema.MigrateAsync(connection, ct).ConfigureAwait(false); return true; }, cancellationToken);

    /// <summary>The inter-node link secret: the stored one, or a new random one that the first node to ask stores.</summary>
    public Task<string> ClusterSecretAsync(CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new("INSERT INTO lstp.settings (name, value) VALUES ('cluster_secret', $1) ON CONFLICT (name) DO NOTHING")
                {
                    Parameters = { new() { Value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) } },
                },
                new("SELECT value FROM lstp.settings WHERE name = 'cluster_secret'"),
            },
        };
        return (string)(await batch.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }, cancellationToken);

    // ---- membership ----------------------------------------------------------------------------------------

    /// <summary>Adds (or refreshes) this node's row and tells the others.</summary>
    public Task JoinAsync(Guid node, string name, string advertise, CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new("""
                    INSERT INTO lstp.nodes (id, name, advertise) VALUES ($1, $2, $3)
                    ON CONFLICT (id) DO UPDATE SET name = excluded.name, advertise = excluded.advertise, heartbeat_at = now()
                    """)
                {
                    Parameters = { new() { Value = node }, new() { Value = name }, new() { Value = advertise } },
                },
                new("SELECT pg_notify('lstp_members', 'joined:' || $1::text)") { Parameters = { new() { Value = node } } },
            },
        };
        await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return true;
    }, cancellationToken);

    /// <summary>Refreshes this node's heartbeat; false when its row was gone (it was declared dead) and has been added again.</summary>
    public Task<bool> HeartbeatAsync(Guid node, string name, string advertise, CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using (var command = new NpgsqlCommand("UPDATE lstp.nodes SET heartbeat_at = now() WHERE id = $1", connection) { Parameters = { new() { Value = node } } })
        {
            if (await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1) return true;
        }
        await JoinAsync(node, name, advertise, ct).ConfigureAwait(false);
        return false;
    }, cancellationToken);

    /// <summary>Deletes nodes whose heartbeat is older than <paramref name="deadAfter"/>, with their waiting ends (ON DELETE CASCADE).</summary>
    public Task<IReadOnlyList<string>> ReapAsync(TimeSpan deadAfter, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<string>>(async (connection, ct) =>
    {
        await using var command = new NpgsqlCommand("""
            WITH gone AS (DELETE FROM lstp.nodes WHERE heartbeat_at < now() - $1 RETURNING id, name)
            SELECT name, pg_notify('lstp_members', 'left:' || id::text) FROM gone
            """, connection)
        {
            Parameters = { new() { Value = deadAfter } },
        };
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names;
    }, cancellationToken);

    /// <summary>The nodes alive now (heartbeat within <paramref name="deadAfter"/>), this one included.</summary>
    public Task<IReadOnlyList<ClusterMember>> MembersAsync(TimeSpan deadAfter, CancellationToken cancellationToken) => RunAsync<IReadOnlyList<ClusterMember>>(async (connection, ct) =>
    {
        await using var command = new NpgsqlCommand(
            "SELECT id, name, advertise FROM lstp.nodes WHERE heartbeat_at > now() - $1 ORDER BY started_at, id", connection)
        {
            Parameters = { new() { Value = deadAfter } },
        };
        var members = new List<ClusterMember>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) members.Add(new ClusterMember(reader.GetGuid(0), reader.GetString(1), reader.GetString(2)));
        return members;
    }, cancellationToken);

    /// <summary>Removes this node and its waiting ends at once (a drain, or a clean stop) and tells the others.</summary>
    public Task LeaveAsync(Guid node, CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var command = new NpgsqlCommand("""
            WITH gone AS (DELETE FROM lstp.nodes WHERE id = $1 RETURNING id)
            SELECT pg_notify('lstp_members', 'left:' || id::text) FROM gone
            """, connection)
        {
            Parameters = { new() { Value = node } },
        };
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return true;
    }, cancellationToken);

    // ---- pairing -------------------------------------------------------------------------------------------

    /// <summary>
    /// Registers one end, atomically: removes rows of the same end (same key and unique name: it reconnected),
    /// claims the oldest row of its peer on a live node, or, when there is none, stores the end's own row; and
    /// notifies the nodes whose rows were removed. One statement, under a transaction-scoped advisory lock on
    /// the pairing key, so two ends of one tunnel that register at two nodes at the same instant are serialised:
    /// the second sees the first's row and claims it, and neither waits forever for the other.
    /// </summary>
    public Task<RegisterRows> RegisterAsync(string commonKey, string uniqueName, Guid id, Guid node, TimeSpan deadAfter, CancellationToken cancellationToken) =>
        RunAsync(async (connection, ct) =>
        {
            // One round trip: a batch outside an explicit transaction runs as one implicit transaction (the
            // extended protocol's messages up to Sync), so the key lock holds until the statement's effects commit.
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    KeyLock(commonKey),
                    new NpgsqlBatchCommand(RegisterSql)
                    {
                        Parameters =
                        {
                            new() { Value = commonKey }, new() { Value = uniqueName }, new() { Value = id },
                            new() { Value = node }, new() { Value = deadAfter },
                        },
                    },
                },
            };
            ClaimedRow? claimed = null;
            var replaced = new List<(Guid Id, Guid Node)>();
            var stored = false;
            await using (var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                await reader.NextResultAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    switch (reader.GetString(0))
                    {
                        case "claimed":
                            claimed = new ClaimedRow(reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3));
                            break;
                        case "replaced":
                            replaced.Add((reader.GetGuid(1), reader.GetGuid(2)));
                            break;
                        case "stored":
                            stored = true;
                            break;
                    }
                }
            }
            return new RegisterRows(claimed, replaced, stored);
        }, cancellationToken);

    // $1 common key, $2 unique name, $3 the new row's id, $4 this node, $5 dead-after.
    // "claimed" skips rows of nodes whose heartbeat lapsed: their ends are gone, forwarding to them would fail.
    private const string RegisterSql = """
        WITH replaced AS (
            DELETE FROM lstp.waiting WHERE common_key = $1 AND unique_name = $2
            RETURNING id, node_id
        ), claimed AS (
            DELETE FROM lstp.waiting WHERE id = (
                SELECT w.id FROM lstp.waiting w JOIN lstp.nodes n ON n.id = w.node_id
                WHERE w.common_key = $1 AND w.unique_name <> $2 AND n.heartbeat_at > now() - $5
                ORDER BY w.since LIMIT 1
                FOR UPDATE OF w SKIP LOCKED)
            RETURNING id, node_id
        ), stored AS (
            INSERT INTO lstp.waiting (id, common_key, unique_name, node_id)
            SELECT $3, $1, $2, $4 WHERE NOT EXISTS (SELECT 1 FROM claimed)
            RETURNING id
        ), told AS (
            SELECT pg_notify('lstp_node_' || replace(x.node_id::text, '-', ''), x.kind || ':' || x.id::text)
            FROM (SELECT 'replaced' AS kind, id, node_id FROM replaced
                  UNION ALL SELECT 'claimed', id, node_id FROM claimed) x
            WHERE x.node_id <> $4
        )
        SELECT 'claimed', c.id, c.node_id, n.advertise, (SELECT count(*) FROM told) FROM claimed c JOIN lstp.nodes n ON n.id = c.node_id
        UNION ALL SELECT 'replaced', r.id, r.node_id, NULL, (SELECT count(*) FROM told) FROM replaced r
        UNION ALL SELECT 'stored', s.id, NULL, NULL, (SELECT count(*) FROM told) FROM stored s
        """;

    /// <summary>
    /// For an end stored at this node while the database was unreachable: stores its row unless its peer waits
    /// at a node already, in which case nothing is stored and that node's address comes back, so the end can be
    /// sent there. Does not claim: the end's link at this node was told WAITING, so it cannot be handed on now.
    /// </summary>
    public Task<string?> StoreUnlessPeerWaitsAsync(string commonKey, string uniqueName, Guid id, Guid node, TimeSpan deadAfter, CancellationToken cancellationToken) =>
        RunAsync(async (connection, ct) =>
        {
            // One round trip: a batch outside an explicit transaction runs as one implicit transaction (the
            // extended protocol's messages up to Sync), so the key lock holds until the statement's effects commit.
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    KeyLock(commonKey),
                    new NpgsqlBatchCommand("""
                        WITH replaced AS (
                            DELETE FROM lstp.waiting WHERE common_key = $1 AND unique_name = $2 AND id <> $3
                            RETURNING id, node_id
                        ), peer AS (
                            SELECT n.advertise FROM lstp.waiting w JOIN lstp.nodes n ON n.id = w.node_id
                            WHERE w.common_key = $1 AND w.unique_name <> $2 AND n.heartbeat_at > now() - $5
                            ORDER BY w.since LIMIT 1
                        ), stored AS (
                            INSERT INTO lstp.waiting (id, common_key, unique_name, node_id)
                            SELECT $3, $1, $2, $4 WHERE NOT EXISTS (SELECT 1 FROM peer)
                            ON CONFLICT (id) DO NOTHING
                            RETURNING id
                        ), told AS (
                            SELECT pg_notify('lstp_node_' || replace(node_id::text, '-', ''), 'replaced:' || id::text)
                            FROM replaced WHERE node_id <> $4
                        )
                        SELECT (SELECT advertise FROM peer), (SELECT count(*) FROM stored), (SELECT count(*) FROM told)
                        """)
                    {
                        Parameters =
                        {
                            new() { Value = commonKey }, new() { Value = uniqueName }, new() { Value = id },
                            new() { Value = node }, new() { Value = deadAfter },
                        },
                    },
                },
            };
            string? peer;
            await using (var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                await reader.NextResultAsync(ct).ConfigureAwait(false);
                await reader.ReadAsync(ct).ConfigureAwait(false);
                peer = reader.IsDBNull(0) ? null : reader.GetString(0);
            }
            return peer;
        }, cancellationToken);

    /// <summary>Serialises registrations of one pairing key across the cluster until the transaction ends.</summary>
    private static NpgsqlBatchCommand KeyLock(string commonKey) =>
        new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))") { Parameters = { new() { Value = commonKey } } };

    public Task DeleteWaitingAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var command = new NpgsqlCommand("DELETE FROM lstp.waiting WHERE id = ANY($1)", connection) { Parameters = { new() { Value = ids.ToArray() } } };
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return true;
    }, cancellationToken);

    /// <summary>The ids of the waiting rows this node holds in the database.</summary>
    public Task<HashSet<Guid>> WaitingRowsOfAsync(Guid node, CancellationToken cancellationToken) => RunAsync(async (connection, ct) =>
    {
        await using var command = new NpgsqlCommand("SELECT id FROM lstp.waiting WHERE node_id = $1", connection) { Parameters = { new() { Value = node } } };
        var ids = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids.Add(reader.GetGuid(0));
        return ids;
    }, cancellationToken);

    // ---- notifications -------------------------------------------------------------------------------------

    /// <summary>
    /// LISTENs on <paramref name="channels"/> over a dedicated connection (no pool, TCP keepalive) and hands each
    /// notification to <paramref name="onNotification"/> until the connection fails (throws
    /// <see cref="ClusterUnavailableException"/>) or <paramref name="cancellationToken"/> is cancelled.
    /// <paramref name="onListening"/> runs once the LISTENs are in place.
    /// </summary>
    public async Task ListenAsync(IReadOnlyList<string> channels, Action<string, string> onNotification, Action onListening, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _listenSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection.Notification += (_, e) => onNotification(e.Channel, e.Payload);
            await using (var command = new NpgsqlCommand(string.Join(";", channels.Select(c => $"LISTEN {c}")), connection))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            MarkReachable(true, null);
            onListening();
            while (true) await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            MarkReachable(false, ex);
            throw new ClusterUnavailableException(Describe, ex);
        }
    }

    // ---- plumbing ------------------------------------------------------------------------------------------

    private async Task<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var result = await work(connection, cancellationToken).ConfigureAwait(false);
            MarkReachable(true, null);
            return result;
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            MarkReachable(false, ex);
            throw new ClusterUnavailableException(Describe, ex);
        }
    }

    /// <summary>
    /// The database is down or unreachable (as opposed to a statement being wrong): connection failures,
    /// timeouts, and the server's own "shutting down / starting up / too many connections" codes.
    /// </summary>
    private static bool IsUnavailable(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        ClusterUnavailableException => true,
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState == "53300",
        NpgsqlException => true,
        TimeoutException or SocketException or IOException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    private void MarkReachable(bool reachable, Exception? why)
    {
        var now = reachable ? 1 : 0;
        if (Interlocked.Exchange(ref _reachable, now) == now) return;
        // Idle pooled connections died with the server: drop them, or each would fail once when it returns.
        if (!reachable) _source.Clear();
        if (reachable) Log.Reachable(_log, Describe);
        else Log.Unreachable(_log, Describe, why?.Message ?? "unknown");
        ReachabilityChanged?.Invoke(reachable);
    }

    public async ValueTask DisposeAsync()
    {
        await _source.DisposeAsync().ConfigureAwait(false);
        await _listenSource.DisposeAsync().ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "cluster database {Database} unreachable: {Reason}; pairing within this node goes on, pairing across nodes waits for it")]
        public static partial void Unreachable(ILogger logger, string database, string reason);

        [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "cluster database {Database} reachable")]
        public static partial void Reachable(ILogger logger, string database);
    }
}

/// <summary>A node of the cluster as the database lists it.</summary>
public sealed record ClusterMember(Guid Id, string Name, string Advertise);

/// <summary>The row a registration claimed: its id (the claim), the node holding that end, and where that node listens.</summary>
public sealed record ClaimedRow(Guid Id, Guid Node, string Advertise);

/// <summary>What one registration statement did.</summary>
public sealed record RegisterRows(ClaimedRow? Claimed, IReadOnlyList<(Guid Id, Guid Node)> Replaced, bool Stored);

/// <summary>The cluster database cannot be reached now: a value the registry falls back on, with the database named (never the password).</summary>
public sealed class ClusterUnavailableException(string database, Exception inner)
    : Exception($"the cluster database {database} is unreachable: {inner.Message}", inner);

using Npgsql;

namespace Lstp.Cluster.Store;

/// <summary>
/// The cluster's tables, created and migrated by the middle itself. Every node runs <see cref="MigrateAsync"/> at
/// start; an advisory lock makes nodes that start together take turns, and <c>lstp.schema_version</c> records
/// what was applied, so running it again changes nothing.
/// </summary>
internal static class Schema
{
    /// <summary>The version this build writes; a database at a newer version was migrated by a newer lstp.</summary>
    public const int Version = 1;

    /// <summary>Advisory lock key (two int4 keys: 'LSTP', 1), a key space apart from the per-pairing-key locks (one int8 key).</summary>
    private const int LockClass = 0x4c535450;
    private const int LockMigrate = 1;

    /// <summary>Migration N is at index N - 1. Append; never edit one that shipped.</summary>
    private static readonly string[] Migrations =
    [
        """
        -- Membership and waiting ends are live state, rebuilt by the nodes within seconds: UNLOGGED (no WAL,
        -- no fsync per registration). A database crash empties them; every node then finds its row gone at
        -- its next heartbeat, joins again and stores its waiting ends again (ClusterMembership.Recovered).
        --
        -- Every node that is alive now: its id, the name in TOPOLOGY_EXCHANGE, where other nodes dial it,
        -- and its last heartbeat (the database's clock, so skew between nodes does not matter).
        CREATE UNLOGGED TABLE lstp.nodes (
            id           uuid PRIMARY KEY,
            name         text NOT NULL,
            advertise    text NOT NULL,
            started_at   timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now()
        );
        -- Ends that wait for their peer, one row each, at the node holding the end's link. A dead node's rows
        -- go with it.
        CREATE UNLOGGED TABLE lstp.waiting (
            id          uuid PRIMARY KEY,
            common_key  text NOT NULL,
            unique_name text NOT NULL,
            node_id     uuid NOT NULL REFERENCES lstp.nodes (id) ON DELETE CASCADE,
            since       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX waiting_by_key ON lstp.waiting (common_key, since);
        CREATE INDEX waiting_by_node ON lstp.waiting (node_id);
        -- Cluster-wide settings, durable: the inter-node link secret lives here.
        CREATE TABLE lstp.settings (
            name  text PRIMARY KEY,
            value text NOT NULL
        );
        """,
    ];

    public static async Task MigrateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({LockClass}, {LockMigrate})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, """
            CREATE SCHEMA IF NOT EXISTS lstp;
            CREATE TABLE IF NOT EXISTS lstp.schema_version (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            """, cancellationToken).ConfigureAwait(false);
        int current;
        await using (var command = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM lstp.schema_version", connection))
        {
            current = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        if (current > Version)
        {
            throw new ClusterSchemaException($"the cluster database is at schema version {current}, newer than this lstp understands ({Version}); upgrade lstp");
        }
        for (var version = current + 1; version <= Version; version++)
        {
            await ExecuteAsync(connection, Migrations[version - 1], cancellationToken).ConfigureAwait(false);
            await using var record = new NpgsqlCommand("INSERT INTO lstp.schema_version (version) VALUES ($1)", connection) { Parameters = { new() { Value = version } } };
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The database's schema cannot be used by this build.</summary>
public sealed class ClusterSchemaException(string message) : Exception(message);

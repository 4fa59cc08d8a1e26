using System.Globalization;
using Akka.Configuration;
using Lstp.Transport;

namespace Lstp.Cluster;

/// <summary>
/// The actor system configuration of a cluster node: remoting on the advertised endpoint (TLS when the cluster has a
/// certificate), the seeds, failure detection and the Split Brain Resolver tuned so a killed node is downed in
/// about four seconds, and sharding's retries shortened to match.
/// </summary>
internal static class ClusterHocon
{
    /// <summary>The actor system's name; every node's must be the same, it is part of each cluster address.</summary>
    public const string SystemName = "lstp";

    public static string Protocol(bool tls) => tls ? "akka.ssl.tcp" : "akka.tcp";

    public static string Address(HostPort endpoint, bool tls)
    {
        var host = endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host;
        return $"{Protocol(tls)}://{SystemName}@{host}:{endpoint.Port}";
    }

    public static Config Create(ClusterOptions options, bool tls)
    {
        var seeds = string.Join(", ", (options.Seeds.Count > 0 ? options.Seeds : [options.Advertise]).Select(s => Quote(Address(s, tls))));
        var text = $$"""
            akka {
              actor.provider = cluster
              remote {
                dot-netty.tcp {
                  hostname = {{Quote(options.Advertise.Host)}}
                  port = {{options.Advertise.Port}}
                  enable-ssl = {{(tls ? "on" : "off")}}
                }
              }
              cluster {
                seed-nodes = [{{seeds}}]
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  stable-after = {{Ms(options.StableAfter)}}
                }
                failure-detector {
                  heartbeat-interval = 500ms
                  acceptable-heartbeat-pause = {{Ms(options.AcceptableHeartbeatPause)}}
                }
                # A downed node's shards move as soon as it is removed.
                down-removal-margin = off
                # Gossip and leader actions four times a second (default once): a downed node is removed, and its
                # shards move, about two seconds sooner. Cheap for clusters of a few middles.
                gossip-interval = 250ms
                leader-actions-interval = 250ms
                unreachable-nodes-reaper-interval = 250ms
                sharding {
                  # The coordinator's shard allocations replicated to every node, so a new coordinator knows them
                  # after its node dies (the default, persistence without a journal, keeps them in the dead node
                  # and the new coordinator would place a shard twice). Entities are not remembered: nothing durable.
                  state-store-mode = ddata
                  distributed-data.durable.keys = []
                  retry-interval = 200ms
                  handoff-timeout = 10s
                  shard-start-timeout = 2s
                  rebalance-interval = 2s
                  waiting-for-state-timeout = 1s
                  updating-state-timeout = 2s
                  coordinator-failure-backoff = 1s
                }
                singleton.hand-over-retry-interval = 200ms
                singleton-proxy.singleton-identification-interval = 200ms
              }
              # The process stops the node itself (drain, then leave); Terminate() alone is what a crash looks like.
              coordinated-shutdown.run-by-actor-system-terminate = off
              # Leaving the cluster (SIGTERM) does not stop the actor system: the middle's links are actors, and busy
              # tunnels relay on through the drain's grace period. The node terminates the system itself, last.
              coordinated-shutdown.terminate-actor-system = off
            }
            """;
        return ConfigurationFactory.ParseString(text);
    }

    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Ms(TimeSpan time) => ((long)time.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
}

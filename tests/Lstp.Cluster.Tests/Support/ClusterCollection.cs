namespace Lstp.Cluster.Tests.Support;

/// <summary>The cluster tests start several actor systems, middles and hundreds of ends each: one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}

/// <summary>Cluster endpoints on loopback: plaintext remoting is allowed there without a cluster certificate.</summary>
public static class Endpoints
{
    public static Lstp.Transport.HostPort Free() => new("127.0.0.1", Lstp.Testing.Net.FreePort());
}

using System.CommandLine;
using Lstp.Admin.Views;
using Lstp.Cluster;
using Lstp.Transport;

namespace Lstp.Cli.Commands;

/// <summary>`lstp middle`'s cluster seeds (--cluster), and the member list a cluster node shows.</summary>
internal static class ClusterFlags
{
    /// <summary>--cluster: seeds HOST:PORT[,HOST:PORT...], each with a real port.</summary>
    public static IReadOnlyList<HostPort> Seeds(string text)
    {
        var seeds = new List<HostPort>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!HostPort.TryParse(part, out var seed, out var error)) throw new FormatException($"--cluster '{part}': {error}");
            if (seed.Port == 0) throw new FormatException($"--cluster '{part}': a seed needs a real port");
            seeds.Add(seed);
        }
        return seeds.Count > 0 ? seeds : throw new FormatException("--cluster '': name at least one seed, HOST:PORT");
    }

    /// <summary>The member list the dashboard and /api/status show (this node first).</summary>
    public static IReadOnlyList<ClusterMemberInfo> Members(ClusterNode node) =>
    [
        .. node.Members.All
            .OrderByDescending(m => m.IsSelf)
            .Select(m => new ClusterMemberInfo(
                m.Info?.Name ?? "(not introduced yet)",
                m.Info?.Link ?? "",
                m.Address.ToString(),
                m.Reachable ? m.Status.ToString().ToLowerInvariant() : "unreachable")),
    ];
}

/// <summary>`lstp cluster-cert FILE`: the certificate every node of one middle cluster holds.</summary>
public static class ClusterCertCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "where to write the new PKCS#12 file (refuses to overwrite)" };
        var command = new Command("cluster-cert", "Create the certificate the nodes of one middle cluster share: copy FILE to every node and give it with --cluster-cert. Cluster traffic is mutual TLS pinned to it.")
        {
            file,
        };
        command.SetAction(parse => CommonOptions.Run(() =>
        {
            var path = parse.GetValue(file)!;
            using var certificate = ClusterCertificate.Create(path);
            Console.WriteLine($"wrote {path} (thumbprint {certificate.Thumbprint}); copy it to every node of the cluster and keep it private: whoever holds it can join");
            return Task.FromResult(0);
        }));
        return command;
    }
}

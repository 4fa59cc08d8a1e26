using System.Net.Sockets;
using Lstp.EndProxy.Connect;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// An end's application helpers: the ones it runs on its forwards (<c>--helper SERVICE=PROTOCOL</c>, announced in
/// PROPERTY_EXCHANGE as <c>helper PROTOCOL:SERVICE</c>), and, for its own services, the watchers its peer's
/// announcements ask for. The composition root (EndProxyHost) asks it for these three things.
/// </summary>
public sealed class ApplicationHelpers
{
    /// <summary>Every protocol this build has a helper for. Another protocol is one class and one line here.</summary>
    public static readonly IReadOnlyDictionary<string, IApplicationHelper> Known = new Dictionary<string, IApplicationHelper>(StringComparer.Ordinal)
    {
        ["ftp"] = new FtpHelper(),
    };

    private readonly IReadOnlyList<HelperSpec> _specs;
    private readonly ILogger _log;

    private ApplicationHelpers(IReadOnlyList<HelperSpec> specs, ILogger log)
    {
        _specs = specs;
        _log = log;
    }

    /// <summary>Checks the <c>--helper</c> options against the forwards; a mistake is a FormatException (exit 2, one line).</summary>
    public static ApplicationHelpers Create(EndOptions options, ILoggerFactory loggers)
    {
        foreach (var spec in options.Helpers)
        {
            var text = $"--helper '{spec.Service}={spec.Protocol}'";
            if (!Known.ContainsKey(spec.Protocol)) throw new FormatException($"{text}: no helper for '{spec.Protocol}' (known: {string.Join(", ", Known.Keys)})");
            var forwards = options.Forwards.Where(f => f.Service == spec.Service).ToList();
            if (forwards.Count == 0) throw new FormatException($"{text}: this end has no --forward to service '{spec.Service}'");
            if (forwards.Any(f => f.Dedicated)) throw new FormatException($"{text}: a helper's forward cannot be /dedicated (its data channels open on the tunnel of its control channel)");
        }
        var twice = options.Helpers.GroupBy(h => h.Service).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new FormatException($"--helper: service '{twice.Key}' has more than one helper");
        return new ApplicationHelpers(options.Helpers, loggers.CreateLogger("Lstp.EndProxy.Helpers"));
    }

    /// <summary>The PROPERTY_EXCHANGE <c>helper</c> values: <c>PROTOCOL:SERVICE</c> for each helper this end runs.</summary>
    public IReadOnlyList<string> Announcements => [.. _specs.Select(s => s.Announcement)];

    /// <summary>The helper for a forward's connections, or null when its service has none (the forward stays a plain channel).</summary>
    public Func<Socket, CancellationToken, Task>? ForForward(ForwardSpec forward, TunnelSupervisor supervisor, TimeSpan waitForTunnel)
    {
        var spec = _specs.FirstOrDefault(s => s.Service == forward.Service);
        if (spec is null) return null;
        var helper = Known[spec.Protocol];
        return (client, cancellationToken) => helper.RelayAsync(client, new TunnelHelperChannels(supervisor, helper.Protocol, spec.Service, waitForTunnel), _log, cancellationToken);
    }

    /// <summary>
    /// Wraps this end's answer to SERVICE_BEGIN_REQUEST so its services work with the peer's helpers.
    /// <paramref name="peer"/> gives the open tunnel's peer properties (its helper announcements).
    /// </summary>
    public HelperTargets Serve(ITargetDialer inner, Func<CancellationToken, Task<EndProperties?>> peer, TimeProvider time) =>
        new(inner, peer, new DataGrants(time), _log);
}

using Lstp.EndProxy;
using Lstp.Transport;

namespace Lstp.Cli.Options;

/// <summary>`lstp end`'s rules between the values of its options: names, listeners and services that must agree.</summary>
internal static class EndRules
{
    /// <summary>The peer asks for a service by name: one name, one target.</summary>
    public static void ServicesOnce(EndChoices end, OptionRuleContext c)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var services = end.Options.Services;
        for (var i = 0; i < services.Count; i++)
        {
            if (!first.TryAdd(services[i].Name, i)) c.Conflict("--service", $"'{services[i].Name}' is offered twice (first at {c.Name("--service", first[services[i].Name])})", i);
        }
    }

    public static void PublishedServicesOffered(EndChoices end, OptionRuleContext c)
    {
        var publish = end.Options.Publish;
        for (var i = 0; i < publish.Count; i++)
        {
            if (end.Options.Services.Any(s => s.Name == publish[i].Service)) continue;
            c.Conflict("--publish", $"'{publish[i].Service}' is not among this end's services ({c.Name("--service")}), so there is nothing to publish", i);
        }
    }

    /// <summary>A typo in <c>--compress db=off</c> must not leave db compressed.</summary>
    public static void CompressedServicesKnown(EndChoices end, OptionRuleContext c)
    {
        try
        {
            end.Options.Compression.RequireServices(end.Options.Services.Select(s => s.Name).Concat(end.Options.Forwards.Select(f => f.Service)));
        }
        catch (FormatException ex)
        {
            c.Conflict("--compress", OptionProblem.WithoutFlag(ex.Message));
        }
    }

    /// <summary>Two local listeners cannot share an address (port 0 is a fresh port each time).</summary>
    public static void ListenersOnce(EndChoices end, OptionRuleContext c)
    {
        var listeners = new Dictionary<HostPort, string>();
        var forwards = end.Options.Forwards;
        for (var i = 0; i < forwards.Count; i++) Listen(forwards[i].Listen, "--forward", i);
        if (end.Options.Socks is { } socks) Listen(socks, "--socks", null);
        if (end.Options.HttpProxy is { } http) Listen(http, "--http-proxy", null);

        void Listen(HostPort address, string flag, int? item)
        {
            if (address.Port == 0) return;
            if (listeners.TryGetValue(address, out var first)) c.Conflict(flag, $"{address} is already the listener of {first}", item);
            else listeners[address] = c.Name(flag, item);
        }
    }

    /// <summary>
    /// A SOCKS or HTTP CONNECT entry point reaches into the peer's network: off loopback, anyone who can connect to
    /// it could use the tunnel, so it needs --proxy-auth there (EndProxyHost refuses it too).
    /// </summary>
    public static void EntryPointsGuarded(EndChoices end, OptionRuleContext c)
    {
        if (c.Supplied("--proxy-auth") || c.Supplied("--proxy-auth-file")) return;
        foreach (var (flag, listen) in new[] { ("--socks", end.Options.Socks), ("--http-proxy", end.Options.HttpProxy) })
        {
            if (listen is not { } address || EndProxyHost.IsLoopback(address)) continue;
            c.Conflict(flag, $"{address} is not a loopback address: anyone who reaches it could use the tunnel into the peer's network, " +
                $"so it needs {c.Name("--proxy-auth")} (or {c.Name("--proxy-auth-file")}) or a listener on 127.0.0.1");
        }
    }
}

using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// Resolves a requested destination and checks every address against the allow-list, so that the
/// address dialled is the address checked (no second lookup that DNS could answer differently).
/// </summary>
public static class Resolver
{
    /// <summary>The operating system's resolver, for production; tests pass their own function.</summary>
    public static readonly Func<string, CancellationToken, Task<IPAddress[]>> SystemDns = Dns.GetHostAddressesAsync;

    /// <summary>
    /// Returns the first resolved address the list allows, with the decision; or no address and the
    /// first address's denial (for example "db resolves to forbidden address 127.0.0.1 (loopback)").
    /// An IP literal is not resolved. Resolution failures are not policy: they surface as the resolver's
    /// exception, and an empty answer as <see cref="SocketException"/> HostNotFound, so callers report
    /// them as unreachable rather than refused.
    /// </summary>
    public static async Task<(IPAddress? address, AllowDecision decision)> ResolveAndCheckAsync(
        AllowList list,
        string host,
        int port,
        Func<string, CancellationToken, Task<IPAddress[]>> resolve,
        CancellationToken ct)
    {
        var byName = list.CheckName(host, port);
        if (!byName.IsAllowed) return (null, byName);
        if (AllowList.TryParseLiteral(host, out var literal)) return (literal, byName);

        HostNames.TryNormalise(host, out var name); // CheckName has already refused names that do not normalise.
        var addresses = await resolve(name, ct).ConfigureAwait(false);
        if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);

        AllowDecision? firstDenial = null;
        foreach (var candidate in addresses)
        {
            var decision = list.CheckAddress(candidate, port, name);
            if (decision.IsAllowed) return (AddressClasses.Normalise(candidate), decision);
            firstDenial ??= decision;
        }
        return (null, firstDenial!);
    }
}

using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Policy;

/// <summary>One parsed <c>--allow</c> pattern; its <see cref="object.ToString"/> is the normalised pattern.</summary>
internal abstract record AllowRule(PortRange Ports);

/// <summary>A CIDR rule: it allows addresses inside <see cref="Network"/> on its ports, asked as literals or reached by name.</summary>
internal sealed record AddressRule(IPNetwork Network, PortRange Ports) : AllowRule(Ports)
{
    public bool Matches(IPAddress normalisedAddress, int port) => Ports.Contains(port) && Network.Contains(normalisedAddress);

    public override string ToString()
    {
        var address = Network.BaseAddress;
        var v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        var fullLength = v6 ? 128 : 32;
        var text = v6 ? $"[{address}]" : address.ToString();
        if (Network.PrefixLength != fullLength) text += $"/{Network.PrefixLength}";
        return $"{text}:{Ports}";
    }
}

/// <summary>A host rule: it allows names that <see cref="Host"/> matches on its ports, never IP literals.</summary>
internal sealed record HostRule(HostPattern Host, PortRange Ports) : AllowRule(Ports)
{
    public bool Matches(string normalisedName, int port) => Ports.Contains(port) && Host.Matches(normalisedName);

    public override string ToString() => $"{Host}:{Ports}";
}

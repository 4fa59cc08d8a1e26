using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Policy;

/// <summary>
/// Address classes a host name must not lead to unless a CIDR rule names them, because reaching them
/// through a name is how a peer would turn the server end against its own host (SSRF).
/// </summary>
public enum AddressClass
{
    /// <summary>An ordinary unicast address, private ranges included: reaching those is the product's job.</summary>
    Ordinary,

    /// <summary>0.0.0.0 or ::. Never dialled, not even under a CIDR rule: Linux connects it to the local host.</summary>
    Unspecified,

    /// <summary>127.0.0.0/8 or ::1: services of the server end's own host.</summary>
    Loopback,

    /// <summary>169.254.0.0/16 or fe80::/10: link-local, which includes cloud metadata at 169.254.169.254.</summary>
    LinkLocal,

    /// <summary>0.0.0.0/8 apart from 0.0.0.0: "this network" (RFC 1122 §3.2.1.3), not a destination.</summary>
    ThisNetwork,

    /// <summary>224.0.0.0/4 or ff00::/8: not a TCP destination.</summary>
    Multicast,

    /// <summary>255.255.255.255: the limited broadcast address.</summary>
    Broadcast,
}

/// <summary>Normalises addresses and sorts them into <see cref="AddressClass"/>es.</summary>
public static class AddressClasses
{
    /// <summary>
    /// Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into plain IPv4 and drops any scope id,
    /// so that every check sees one spelling of each destination.
    /// </summary>
    public static IPAddress Normalise(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            return new IPAddress(address.GetAddressBytes());
        return address;
    }

    /// <summary>The class of <paramref name="address"/> after <see cref="Normalise"/>.</summary>
    public static AddressClass Classify(IPAddress address)
    {
        address = Normalise(address);
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out var length);
        if (length == 4)
        {
            if (b[0] == 0) return b[1] == 0 && b[2] == 0 && b[3] == 0 ? AddressClass.Unspecified : AddressClass.ThisNetwork;
            if (b[0] == 127) return AddressClass.Loopback;
            if (b[0] == 169 && b[1] == 254) return AddressClass.LinkLocal;
            if (b[0] >= 224 && b[0] <= 239) return AddressClass.Multicast;
            if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return AddressClass.Broadcast;
            return AddressClass.Ordinary;
        }
        if (address.Equals(IPAddress.IPv6Any)) return AddressClass.Unspecified;
        if (address.Equals(IPAddress.IPv6Loopback)) return AddressClass.Loopback;
        if (address.IsIPv6LinkLocal) return AddressClass.LinkLocal;
        if (address.IsIPv6Multicast) return AddressClass.Multicast;
        return AddressClass.Ordinary;
    }

    /// <summary>The class's name as a reason string shows it.</summary>
    public static string Describe(AddressClass addressClass) => addressClass switch
    {
        AddressClass.Unspecified => "unspecified",
        AddressClass.Loopback => "loopback",
        AddressClass.LinkLocal => "link-local",
        AddressClass.ThisNetwork => "this-network",
        AddressClass.Multicast => "multicast",
        AddressClass.Broadcast => "broadcast",
        _ => "ordinary",
    };
}

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// A SOCKS5 CONNECT request: the destination as the client named it (an IP literal without brackets,
/// or a domain name) and the ATYP it used (<see cref="Socks5AddressType"/>).
/// </summary>
public sealed record Socks5Request(string Host, int Port, byte AddressType);

/// <summary>The ATYP values of RFC 1928 §4.</summary>
public static class Socks5AddressType
{
    public const byte IPv4 = 1;
    public const byte DomainName = 3;
    public const byte IPv6 = 4;
}

namespace Lstp.EndProxy.EntryPoints;

/// <summary>The REP field of a SOCKS5 reply (RFC 1928 §6).</summary>
public enum Socks5Reply : byte
{
    Succeeded = 0,
    GeneralFailure = 1,
    NotAllowedByRuleset = 2,
    NetworkUnreachable = 3,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    TtlExpired = 6,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}

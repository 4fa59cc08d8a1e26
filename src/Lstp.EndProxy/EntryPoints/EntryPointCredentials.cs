using System.Security.Cryptography;
using System.Text;

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// The user name and password a local SOCKS5 or HTTP CONNECT entry point requires. Only hashes are
/// kept, compared in constant time; <see cref="ToString"/> never shows the password.
/// </summary>
public sealed class EntryPointCredentials
{
    private readonly byte[] _userHash;
    private readonly byte[] _passwordHash;

    public EntryPointCredentials(string userName, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(userName);
        ArgumentNullException.ThrowIfNull(password);
        UserName = userName;
        _userHash = SHA256.HashData(Encoding.UTF8.GetBytes(userName));
        _passwordHash = SHA256.HashData(Encoding.UTF8.GetBytes(password));
    }

    public string UserName { get; }

    /// <summary>
    /// True when both match. Hashing first makes the comparison take the same time whatever the
    /// lengths, and the non-short-circuit <c>&amp;</c> keeps a right user name from showing in the timing.
    /// </summary>
    public bool Matches(ReadOnlySpan<byte> userName, ReadOnlySpan<byte> password) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(userName), _userHash)
        & CryptographicOperations.FixedTimeEquals(SHA256.HashData(password), _passwordHash);

    public override string ToString() => $"{UserName}:***";
}

using System.Security.Cryptography;
using System.Text;

namespace Lstp.Tunnel.Security;

/// <summary>
/// Keys derived from the tunnel secret. The middle sees only <see cref="PairingKey"/>, a keyed hash it cannot
/// invert; <see cref="AuthKey"/> never leaves the end. The secret is stretched with PBKDF2 first so that a
/// middle holding a pairing key pays for every guess of a weak secret (docs/security.md).
/// </summary>
public sealed class TunnelSecret
{
    /// <summary>
    /// PBKDF2-SHA256 iterations: about 40 ms once per end process on this project's 2-core machine, while a
    /// dictionary attack on a captured pairing key pays it for every guess.
    /// </summary>
    public const int Iterations = 100_000;

    private static readonly byte[] Salt = "lstp-secret-v1"u8.ToArray();

    private TunnelSecret(byte[] master)
    {
        PairingKey = HMACSHA256.HashData(master, "lstp-pairing-v1"u8);
        AuthKey = HMACSHA256.HashData(master, "lstp-auth-v1"u8);
    }

    /// <summary>The common part of COMMONUNIQUE_INFO: which ends belong together. Safe to show the middle.</summary>
    public byte[] PairingKey { get; }

    /// <summary>The key the ends prove to each other over the end-to-end TLS session.</summary>
    public byte[] AuthKey { get; }

    /// <summary>Derives the keys from a secret a person typed or stored in a file.</summary>
    public static TunnelSecret FromPassphrase(string secret)
    {
        if (string.IsNullOrWhiteSpace(secret)) throw new ArgumentException("the tunnel secret is empty; refusing to start without one", nameof(secret));
        return new TunnelSecret(Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), Salt, Iterations, HashAlgorithmName.SHA256, 32));
    }

    /// <summary>Uses 32 random bytes directly (already high entropy, nothing to stretch): load generators, tests.</summary>
    public static TunnelSecret FromKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < 32) throw new ArgumentException("a raw tunnel key must be at least 32 bytes", nameof(key));
        return new TunnelSecret(key.ToArray());
    }
}

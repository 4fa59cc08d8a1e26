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
    /// PBKDF2-SHA256 iterations: OWASP's current guidance for PBKDF2-HMAC-SHA256 (600,000). About a quarter of a
    /// second once per secret and process on this project's 2-core machine, while a dictionary attack on a captured
    /// pairing key pays it for every guess. Ends with a different count derive other keys and never pair: upgrade
    /// both ends of a tunnel together.
    /// </summary>
    public const int Iterations = 600_000;

    /// <summary>
    /// Secrets already stretched in this process: an end derives its keys again at every start of a tunnel
    /// connection (dedicated connections, a host restarted in tests), and PBKDF2 is deliberately slow.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, TunnelSecret> Derived = new(StringComparer.Ordinal);

    private static readonly byte[] Salt = "lstp-secret-v1"u8.ToArray();

    private TunnelSecret(byte[] master)
    {
        PairingKey = HMACSHA256.HashData(master, "lstp-pairing-v1"u8);
        AuthKey = HMACSHA256.HashData(master, "lstp-auth-v1"u8);
        PublishOwner = HMACSHA256.HashData(master, "lstp-publish-owner-v1"u8);
    }

    /// <summary>The common part of COMMONUNIQUE_INFO: which ends belong together. Safe to show the middle.</summary>
    public byte[] PairingKey { get; }

    /// <summary>The key the ends prove to each other over the end-to-end TLS session.</summary>
    public byte[] AuthKey { get; }

    /// <summary>
    /// What an end shows a middle to claim its published ports (PUBLISH_REQUEST): a port belongs to the first owner
    /// that published it. Derived apart from the other keys, so a middle that sees it learns nothing about them.
    /// </summary>
    public byte[] PublishOwner { get; }

    /// <summary>Derives the keys from a secret a person typed or stored in a file.</summary>
    public static TunnelSecret FromPassphrase(string secret)
    {
        if (string.IsNullOrWhiteSpace(secret)) throw new ArgumentException("the tunnel secret is empty; refusing to start without one", nameof(secret));
        return Derived.GetOrAdd(secret, s => new TunnelSecret(Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(s), Salt, Iterations, HashAlgorithmName.SHA256, 32)));
    }

    /// <summary>Uses 32 random bytes directly (already high entropy, nothing to stretch): load generators, tests.</summary>
    public static TunnelSecret FromKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < 32) throw new ArgumentException("a raw tunnel key must be at least 32 bytes", nameof(key));
        return new TunnelSecret(key.ToArray());
    }
}

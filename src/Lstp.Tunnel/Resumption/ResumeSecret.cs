using System.Security.Cryptography;
using Lstp.Tunnel.Security;

namespace Lstp.Tunnel.Resumption;

/// <summary>
/// The secret two ends agree inside a tunnel's handshake so that they, and only they, can resume that tunnel over a
/// new link (docs/protocol.md §6.7). Each end sends a fresh random share in RESUME, inside TLS; the secret binds both
/// shares to the tunnel secret's auth key and to the server end's certificate, so a middle, which holds neither the
/// auth key nor (under TLS) the shares, cannot compute it. .NET's SslStream offers no TLS exporter (RFC 5705), which
/// would otherwise be the natural source of such a secret.
/// </summary>
public sealed class ResumeSecret
{
    private readonly byte[] _key;

    private ResumeSecret(byte[] key)
    {
        _key = key;
        Tunnel = HMACSHA256.HashData(key, "lstp-resume-id-v1"u8)[..Protocol.Messages.Resume.TunnelSize];
    }

    /// <summary>The tunnel's name in RESUME: derived from the secret, so it reveals nothing of it.</summary>
    public byte[] Tunnel { get; }

    /// <summary>HMAC-SHA256(authKey, "lstp-resume-v1" | SHA-256(server certificate) | master's share | other's share).</summary>
    public static ResumeSecret Agree(TunnelSecret secret, byte[] serverCertHash, byte[] masterShare, byte[] otherShare)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret.AuthKey);
        hmac.AppendData("lstp-resume-v1"u8);
        hmac.AppendData(serverCertHash);
        hmac.AppendData(masterShare);
        hmac.AppendData(otherShare);
        return new ResumeSecret(hmac.GetHashAndReset());
    }

    /// <summary>
    /// The proof one end gives in a new handshake that it holds this secret: bound to that handshake's server
    /// certificate and AUTH_PROOF nonces, which are fresh, so a proof recorded from one handshake proves nothing in another.
    /// HMAC-SHA256(secret, "lstp-resume-proof-v1" | role | SHA-256(server certificate) | master nonce | other nonce).
    /// </summary>
    public byte[] Proof(byte role, byte[] serverCertHash, byte[] masterNonce, byte[] otherNonce)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key);
        hmac.AppendData("lstp-resume-proof-v1"u8);
        hmac.AppendData([role]);
        hmac.AppendData(serverCertHash);
        hmac.AppendData(masterNonce);
        hmac.AppendData(otherNonce);
        return hmac.GetHashAndReset();
    }
}

/// <summary>What an end offers when it reconnects a broken tunnel: the tunnel's secret and how much of the peer's stream it received.</summary>
public sealed record ResumeOffer(ResumeSecret Secret, long Received);

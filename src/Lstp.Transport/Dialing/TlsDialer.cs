using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lstp.Transport.Dialing;

/// <summary>How an end checks the middle's TLS certificate: a pinned SHA-256 fingerprint, a CA, or the system's trust.</summary>
public sealed record MiddleTrust(string? Fingerprint = null, string? CaFile = null)
{
    /// <summary>Normalises <c>AB:CD:..</c>, <c>sha256:abcd..</c> or plain hex to 64 lowercase hex digits.</summary>
    public static string NormaliseFingerprint(string text, string flag = "--middle-fingerprint")
    {
        var hex = text.Trim();
        if (hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)) hex = hex[7..];
        hex = hex.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        if (hex.Length != 64 || !hex.All(Uri.IsHexDigit)) throw new FormatException($"{flag} '{text}': expected the certificate's SHA-256 as 64 hex digits");
        return hex;
    }

    public static string FingerprintOf(X509Certificate certificate) => Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData())).ToLowerInvariant();
}

/// <summary>Wraps another dialer's stream in TLS to the middle, checking its certificate as <see cref="MiddleTrust"/> says.</summary>
public sealed class TlsDialer(IDialer inner, MiddleTrust trust) : IDialer
{
    private readonly string? _pin = trust.Fingerprint is null ? null : MiddleTrust.NormaliseFingerprint(trust.Fingerprint);
    private readonly X509Certificate2Collection? _roots = LoadRoots(trust.CaFile);

    public async ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken)
    {
        var stream = await inner.DialAsync(target, cancellationToken).ConfigureAwait(false);
        var ssl = new LinkTlsStream(stream);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = target.Host,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(certificate, chain, errors),
            }, cancellationToken).ConfigureAwait(false);
            return ssl;
        }
        catch (AuthenticationException ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new DialException(DialFailure.Unreachable, $"TLS to middle {target} failed: {ex.Message}{(_pin is null ? "" : " (the certificate does not match the pinned fingerprint)")}", ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if (_pin is not null)
        {
            // A pin replaces chain and name checks: it names exactly one certificate.
            return CryptographicOperations.FixedTimeEquals(Convert.FromHexString(_pin), SHA256.HashData(certificate.GetRawCertData()));
        }
        if (_roots is not null)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && custom.Build(new X509Certificate2(certificate));
        }
        return errors == SslPolicyErrors.None;
    }

    private static X509Certificate2Collection? LoadRoots(string? caFile)
    {
        if (caFile is null) return null;
        if (!File.Exists(caFile)) throw new FormatException($"--middle-ca: '{caFile}' does not exist");
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(caFile);
        if (roots.Count == 0) throw new FormatException($"--middle-ca: '{caFile}' holds no PEM certificate");
        return roots;
    }
}

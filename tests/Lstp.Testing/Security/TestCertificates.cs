using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lstp.Testing.Security;

/// <summary>Self-signed certificates made in the test, for a middle's link TLS and for an attacker's TLS.</summary>
public static class TestCertificates
{
    /// <summary>A self-signed ECDSA P-256 certificate with its private key, usable by SslStream as a server.</summary>
    public static X509Certificate2 SelfSigned(string commonName, string? dnsName = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName ?? commonName);
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        // Through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Writes a new self-signed certificate and its PKCS#8 key as PEM files in <paramref name="directory"/>, as an
    /// operator would for `lstp middle --tls-cert --tls-key`; returns the paths and the SHA-256 fingerprint an end pins.
    /// </summary>
    public static (string CertificatePath, string KeyPath, string Fingerprint) WritePem(string directory, string commonName = "lstp-middle")
    {
        Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        var certPath = Path.Combine(directory, "middle.crt");
        var keyPath = Path.Combine(directory, "middle.key");
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        var fingerprint = Convert.ToHexString(SHA256.HashData(cert.RawData)).ToLowerInvariant();
        return (certPath, keyPath, fingerprint);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lstp.Tunnel.Security;

/// <summary>
/// A self-signed certificate made once per process for the end-to-end TLS session. It proves nothing by
/// itself: the AUTH_PROOF exchange binds its hash to the tunnel secret, which is what authenticates.
/// </summary>
public static class EphemeralCertificate
{
    private static readonly Lazy<X509Certificate2> Shared = new(Create);

    public static X509Certificate2 Instance => Shared.Value;

    private static X509Certificate2 Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=lstp-end", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(30));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}

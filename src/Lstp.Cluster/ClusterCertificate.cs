using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lstp.Cluster;

/// <summary>
/// The certificate the nodes of one cluster share (`lstp cluster-cert FILE`). It is both each node's identity and
/// the only certificate a node accepts from another: cluster traffic is mutual TLS pinned to its thumbprint, so no
/// certificate authority is involved and a copy of the file is what admits a node.
/// </summary>
public static class ClusterCertificate
{
    /// <summary>Long-lived on purpose: rotating it means restarting every node with the new file at once.</summary>
    private static readonly TimeSpan Validity = TimeSpan.FromDays(3650);

    /// <summary>Writes a new self-signed certificate with its private key to <paramref name="file"/> (mode 0600), no password.</summary>
    public static X509Certificate2 Create(string file)
    {
        if (File.Exists(file)) throw new ArgumentException($"'{file}' exists; refusing to overwrite a cluster certificate (every node holds a copy)");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=lstp-cluster", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + Validity);
        var bytes = certificate.Export(X509ContentType.Pkcs12);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the private key: owner only
        using (var stream = new FileStream(file, create))
        {
            stream.Write(bytes);
        }
        return X509CertificateLoader.LoadPkcs12(bytes, null);
    }

    /// <summary>Loads the shared certificate; a missing or unreadable file, or one without its private key, is a configuration mistake.</summary>
    public static X509Certificate2 Load(string file)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(file, null, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"--cluster-cert {file}: cannot load it: {ex.Message}");
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new ArgumentException($"--cluster-cert {file}: it holds no private key; give every node the file `lstp cluster-cert` wrote");
        }
        return certificate;
    }
}

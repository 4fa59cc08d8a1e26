using System.Security.Cryptography;
using System.Text;
using Lstp.Tunnel.Security;
using Xunit;

namespace Lstp.Tunnel.Tests.Security;

/// <summary>The secret is stretched as current guidance asks (OWASP: PBKDF2-HMAC-SHA256, 600,000 iterations).</summary>
public sealed class TunnelSecretTests
{
    [Fact]
    public void Keys_come_from_PBKDF2_SHA256_at_600000_iterations_as_docs_protocol_6_3_says()
    {
        const string Secret = "correct horse battery staple";
        var master = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Secret), "lstp-secret-v1"u8.ToArray(), 600_000, HashAlgorithmName.SHA256, 32);

        var keys = TunnelSecret.FromPassphrase(Secret);

        Assert.Equal(HMACSHA256.HashData(master, "lstp-pairing-v1"u8), keys.PairingKey);
        Assert.Equal(HMACSHA256.HashData(master, "lstp-auth-v1"u8), keys.AuthKey);
    }

    [Fact]
    public void A_secret_is_stretched_once_per_process_and_gives_the_same_keys_each_time()
    {
        var first = TunnelSecret.FromPassphrase("stretched once");
        var again = TunnelSecret.FromPassphrase("stretched once");

        Assert.Equal(first.PairingKey, again.PairingKey);
        Assert.NotEqual(first.PairingKey, TunnelSecret.FromPassphrase("stretched twice").PairingKey);
    }
}

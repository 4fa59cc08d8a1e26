using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Security;

namespace Lstp.Tunnel.Session;

/// <summary>
/// docs/architecture.md setup steps 4–5, run by both ends once the middle has paired them:
/// <list type="number">
/// <item>Both ends refuse a plaintext mismatch (each sees both flags; neither needs to tell the other).</item>
/// <item>Master election: the end with the lower instance id (its TOPOLOGY_EXCHANGE node id) is master.</item>
/// <item>The master starts TLS 1.3 as client; the other end serves an ephemeral certificate.</item>
/// <item>AUTH_PROOF: both send a fresh nonce, then an HMAC under the tunnel's auth key over the server
/// certificate's hash and both nonces. A middle that terminates TLS itself cannot produce matching proofs.</item>
/// <item>RESUME both ways: resume the tunnel this end offers (when the peer offers the same one and proves its
/// secret), or agree the secret that will let this new tunnel resume later.</item>
/// <item>Each end repeats its COMMONUNIQUE_INFO and both TOPOLOGY_EXCHANGEs (as sent, as received) inside the
/// secure channel; any difference from what came through the middle aborts with SetupAltered.</item>
/// <item>PROPERTY_EXCHANGE both ways.</item>
/// </list>
/// </summary>
public static class EndToEndHandshake
{
    private const int NonceSize = 32;

    /// <param name="offer">The broken tunnel this end wants to resume, if any.</param>
    /// <param name="resumable">This end resumes tunnels (its resume grace is not zero): it sends a share of the next secret.</param>
    public static async Task<SecuredSession> RunAsync(RelayStream relay, Pairing pairing, TunnelSecret secret, EndProperties mine, CancellationToken cancellationToken,
        ResumeOffer? offer = null, bool resumable = false)
    {
        var iWantPlaintext = pairing.Mine.Flags.HasFlag(SetupFlags.Plaintext);
        var peerWantsPlaintext = pairing.Peer.Flags.HasFlag(SetupFlags.Plaintext);
        if (iWantPlaintext != peerWantsPlaintext)
        {
            throw new ProtocolException(ErrorCode.PlaintextMismatch, iWantPlaintext
                ? $"this end asked for --plaintext but peer '{pairing.Peer.EndName}' did not; both ends must agree (encryption is on unless both say --plaintext)"
                : $"peer '{pairing.Peer.EndName}' asked for --plaintext but this end did not; both ends must agree (encryption is on unless both say --plaintext)");
        }

        var order = pairing.Mine.InstanceId.AsSpan().SequenceCompareTo(pairing.Peer.InstanceId);
        if (order == 0) throw new ProtocolException(ErrorCode.SetupAltered, "the peer has our own instance id: the middle paired us with ourselves");
        var isMaster = order < 0;

        Stream stream = relay;
        byte[] serverCertHash = [];
        if (!iWantPlaintext)
        {
            var tls = Telemetry.SetupTrace.Start(Transport.Telemetry.TelemetryNames.Tls);
            var (ssl, hash) = await StartTlsAsync(relay, isMaster, cancellationToken).ConfigureAwait(false);
            tls?.Done();
            stream = ssl;
            serverCertHash = hash;
        }

        try
        {
            var reader = new FrameStreamReader(stream);
            var authenticate = Telemetry.SetupTrace.Start(Transport.Telemetry.TelemetryNames.Authenticate);
            var nonces = await ProveSecretAsync(stream, reader, secret, isMaster, serverCertHash, cancellationToken).ConfigureAwait(false);
            var resume = await ExchangeResumeAsync(stream, reader, secret, isMaster, serverCertHash, nonces, offer, resumable, cancellationToken).ConfigureAwait(false);
            await VerifySetupAsync(stream, reader, pairing, cancellationToken).ConfigureAwait(false);

            await WriteAsync(stream, mine.ToMessage(), cancellationToken).ConfigureAwait(false);
            var peerProps = EndProperties.From(await ExpectAsync<PropertyExchange>(reader, cancellationToken).ConfigureAwait(false));
            if (peerProps.Version != ProtocolLimits.Version)
            {
                throw new ProtocolException(ErrorCode.VersionMismatch, $"peer '{pairing.Peer.EndName}' speaks LSTP version {peerProps.Version}, this end speaks {ProtocolLimits.Version}");
            }
            authenticate?.Done();
            return new SecuredSession(stream, reader, relay, pairing, isMaster, !iWantPlaintext, peerProps)
            {
                CipherSuite = (stream as SslStream)?.NegotiatedCipherSuite,
                Resumption = resume.Secret,
                PeerReceived = resume.PeerReceived,
            };
        }
        catch (Exception ex)
        {
            // Tell the peer why, inside the secure channel, before giving up; best effort. Whatever the failure (a
            // protocol error, a closed link, the handshake's deadline), the TLS session is released here.
            if (ex is ProtocolException protocol)
            {
                try { await WriteAsync(stream, new Error(protocol.Code, protocol.Message), CancellationToken.None).ConfigureAwait(false); } catch { }
            }
            if (!ReferenceEquals(stream, relay)) await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<(SslStream, byte[])> StartTlsAsync(RelayStream relay, bool isMaster, CancellationToken cancellationToken)
    {
        // Certificates are not validated by chain: the AUTH_PROOF below binds whatever certificate the
        // server end presented to the tunnel secret, which is the actual authentication.
        byte[]? seen = null;
        relay.ReadByTls = true;
        var ssl = new SslStream(relay, leaveInnerStreamOpen: true, (_, certificate, _, _) =>
        {
            // The server end asks for no client certificate, so it is called with none: that is fine.
            if (!isMaster) return true;
            seen = certificate is null ? null : SHA256.HashData(certificate.GetRawCertData());
            return certificate is not null;
        });
        try
        {
            if (isMaster)
            {
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "lstp-end",
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                }, cancellationToken).ConfigureAwait(false);
                return (ssl, seen ?? throw new AuthenticationException("the peer presented no certificate"));
            }
            var certificate = EphemeralCertificate.Instance;
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                EnabledSslProtocols = SslProtocols.Tls13,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, cancellationToken).ConfigureAwait(false);
            return (ssl, SHA256.HashData(certificate.GetRawCertData()));
        }
        catch (AuthenticationException ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new ProtocolException(ErrorCode.AuthFailed, $"the end-to-end TLS handshake failed: {ex.Message}{(ex.InnerException is { } inner ? " " + inner.Message : "")}");
        }
        catch
        {
            // The link closed or the deadline passed mid-handshake: nothing to tell the peer, but release the session.
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<(byte[] Master, byte[] Other)> ProveSecretAsync(Stream stream, FrameStreamReader reader, TunnelSecret secret, bool isMaster, byte[] serverCertHash, CancellationToken cancellationToken)
    {
        var myNonce = RandomNumberGenerator.GetBytes(NonceSize);
        await WriteAsync(stream, new AuthProof(AuthStage.Nonce, myNonce), cancellationToken).ConfigureAwait(false);
        var peerNonce = await ExpectAsync<AuthProof>(reader, cancellationToken).ConfigureAwait(false);
        if (peerNonce.Stage != AuthStage.Nonce || peerNonce.Value.Length != NonceSize) throw new ProtocolException(ErrorCode.AuthFailed, "the peer's AUTH_PROOF nonce is malformed");

        var masterNonce = isMaster ? myNonce : peerNonce.Value;
        var otherNonce = isMaster ? peerNonce.Value : myNonce;
        var myMac = Mac(secret, Role(isMaster), serverCertHash, masterNonce, otherNonce);
        await WriteAsync(stream, new AuthProof(AuthStage.Mac, myMac), cancellationToken).ConfigureAwait(false);

        var peerMac = await ExpectAsync<AuthProof>(reader, cancellationToken).ConfigureAwait(false);
        var expected = Mac(secret, Role(!isMaster), serverCertHash, masterNonce, otherNonce);
        if (peerMac.Stage != AuthStage.Mac || !CryptographicOperations.FixedTimeEquals(peerMac.Value, expected))
        {
            throw new ProtocolException(ErrorCode.AuthFailed, "the peer could not prove the tunnel secret over this session (wrong secret, or a middle in the middle of TLS)");
        }
        return (masterNonce, otherNonce);
    }

    /// <summary>What RESUME settled: the secret of the tunnel this session carries (null: it cannot resume), and
    /// when it resumes a broken tunnel, how much of that tunnel's stream the peer had received.</summary>
    private sealed record ResumeOutcome(ResumeSecret? Secret, long? PeerReceived);

    /// <summary>
    /// RESUME both ways (docs/protocol.md §6.7). The tunnel resumes only when both ends offer the same tunnel and each
    /// proves that tunnel's secret over this session's fresh nonces; otherwise this is a new tunnel, whose secret
    /// comes from both shares (none when either end does not resume tunnels).
    /// </summary>
    private static async Task<ResumeOutcome> ExchangeResumeAsync(Stream stream, FrameStreamReader reader, TunnelSecret secret, bool isMaster, byte[] serverCertHash,
        (byte[] Master, byte[] Other) nonces, ResumeOffer? offer, bool resumable, CancellationToken cancellationToken)
    {
        var myRole = Role(isMaster);
        var peerRole = Role(!isMaster);
        var share = resumable ? RandomNumberGenerator.GetBytes(Resume.ShareSize) : [];
        var mine = offer is null
            ? new Resume(new byte[Resume.TunnelSize], [], 0, share)
            : new Resume(offer.Secret.Tunnel, offer.Secret.Proof(myRole, serverCertHash, nonces.Master, nonces.Other), (ulong)offer.Received, share);
        await WriteAsync(stream, mine, cancellationToken).ConfigureAwait(false);
        var peer = await ExpectAsync<Resume>(reader, cancellationToken).ConfigureAwait(false);

        if (offer is not null && peer.Offers && peer.Tunnel.AsSpan().SequenceEqual(offer.Secret.Tunnel)
            && CryptographicOperations.FixedTimeEquals(peer.Proof, offer.Secret.Proof(peerRole, serverCertHash, nonces.Master, nonces.Other)))
        {
            if (peer.Received > long.MaxValue) throw new ProtocolException(ErrorCode.Malformed, "RESUME counts more bytes than a stream can hold");
            return new ResumeOutcome(offer.Secret, (long)peer.Received);
        }
        if (share.Length == 0 || peer.Share.Length == 0) return new ResumeOutcome(null, null);
        var masterShare = isMaster ? share : peer.Share;
        var otherShare = isMaster ? peer.Share : share;
        return new ResumeOutcome(ResumeSecret.Agree(secret, serverCertHash, masterShare, otherShare), null);
    }

    /// <summary>The role byte in AUTH_PROOF and RESUME proofs: 'M' for the master, 'S' for the other end.</summary>
    private static byte Role(bool master) => master ? (byte)'M' : (byte)'S';

    /// <summary>HMAC-SHA256(authKey, "lstp-auth-v1" | role | SHA-256(server cert) | master nonce | other nonce).</summary>
    public static byte[] Mac(TunnelSecret secret, byte role, byte[] serverCertHash, byte[] masterNonce, byte[] otherNonce)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret.AuthKey);
        hmac.AppendData("lstp-auth-v1"u8);
        hmac.AppendData([role]);
        hmac.AppendData(serverCertHash);
        hmac.AppendData(masterNonce);
        hmac.AppendData(otherNonce);
        return hmac.GetHashAndReset();
    }

    private static async Task VerifySetupAsync(Stream stream, FrameStreamReader reader, Pairing pairing, CancellationToken cancellationToken)
    {
        await WriteAsync(stream, pairing.Mine, cancellationToken).ConfigureAwait(false);
        await WriteAsync(stream, pairing.MineSent, cancellationToken).ConfigureAwait(false);
        await WriteAsync(stream, pairing.Received, cancellationToken).ConfigureAwait(false);

        var peerInfo = await ExpectAsync<CommonUniqueInfo>(reader, cancellationToken).ConfigureAwait(false);
        var peerSent = await ExpectAsync<TopologyExchange>(reader, cancellationToken).ConfigureAwait(false);
        var peerReceived = await ExpectAsync<TopologyExchange>(reader, cancellationToken).ConfigureAwait(false);

        if (!peerInfo.Equals(pairing.Peer))
        {
            throw new ProtocolException(ErrorCode.SetupAltered, "the middle altered the peer's COMMONUNIQUE_INFO");
        }
        if (peerSent.Entries.Count > pairing.Received.Entries.Count || !peerSent.Entries.SequenceEqual(pairing.Received.Entries.Take(peerSent.Entries.Count)))
        {
            throw new ProtocolException(ErrorCode.SetupAltered, "the middle altered the peer's TOPOLOGY_EXCHANGE");
        }
        if (peerReceived.Entries.Count < pairing.MineSent.Entries.Count || !pairing.MineSent.Entries.SequenceEqual(peerReceived.Entries.Take(pairing.MineSent.Entries.Count)))
        {
            throw new ProtocolException(ErrorCode.SetupAltered, "the middle altered this end's TOPOLOGY_EXCHANGE on its way to the peer");
        }
        var middlesISaw = pairing.Received.Entries.Skip(peerSent.Entries.Count).ToList();
        var middlesPeerSaw = peerReceived.Entries.Skip(pairing.MineSent.Entries.Count).Reverse().ToList();
        if (!middlesISaw.SequenceEqual(middlesPeerSaw))
        {
            throw new ProtocolException(ErrorCode.SetupAltered, "the two ends saw different middles on the path");
        }
    }

    private static async ValueTask WriteAsync(Stream stream, Message message, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(message.ToFrame(), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask<T> ExpectAsync<T>(FrameStreamReader reader, CancellationToken cancellationToken) where T : Message
    {
        var message = await reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, cancellationToken).ConfigureAwait(false);
        return message switch
        {
            T expected => expected,
            Error error => throw new ProtocolException(error.Code, $"the peer refused the tunnel: {error.Reason}"),
            null => throw new LinkClosedException(ErrorCode.PeerGone, "the peer closed the tunnel during setup"),
            _ => throw new ProtocolException(ErrorCode.ProtocolViolation, $"expected {typeof(T).Name} during setup, got {message}"),
        };
    }
}

using Lstp.Tunnel.Link;
using Lstp.Tunnel.Resumption;

namespace Lstp.Tunnel.Session;

/// <summary>
/// The result of the end-to-end handshake: the stream both ends now speak LSTP over (TLS unless both chose
/// plaintext), who is master, the verified path and what the peer said about itself.
/// </summary>
public sealed record SecuredSession(
    Stream Stream,
    FrameStreamReader Reader,
    RelayStream Relay,
    Pairing Pairing,
    bool IsMaster,
    bool Encrypted,
    EndProperties PeerProperties) : IAsyncDisposable
{
    public string PeerName => Pairing.Peer.EndName;

    /// <summary>The end-to-end TLS session's cipher suite; null in plaintext.</summary>
    public System.Net.Security.TlsCipherSuite? CipherSuite { get; init; }

    /// <summary>The secret that lets this tunnel resume over a new link; null when either end does not resume tunnels.</summary>
    public ResumeSecret? Resumption { get; init; }

    /// <summary>Set when this session resumes a broken tunnel: how much of that tunnel's stream the peer had received.</summary>
    public long? PeerReceived { get; init; }

    /// <summary>True when this session carries on a broken tunnel instead of starting a new one.</summary>
    public bool Resumes => PeerReceived is not null;

    /// <summary>Closes after the last frames were written: FIN on the link, then the middle's (see <see cref="RelayStream.CloseAsync"/>).</summary>
    public async ValueTask CloseAsync(TimeSpan grace)
    {
        await Relay.CloseAsync(grace).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        // The link first: closing it fails a write stuck on a full socket (a blackholed path). SslStream.DisposeAsync
        // does not return while one of its writes is pending, so disposing it first hangs the tunnel's stop for good.
        try { await Relay.DisposeAsync().ConfigureAwait(false); } catch (Exception) { }
        try { await Stream.DisposeAsync().ConfigureAwait(false); } catch (Exception) { }
    }
}

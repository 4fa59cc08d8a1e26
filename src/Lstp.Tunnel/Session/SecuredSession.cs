using Lstp.Tunnel.Link;

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

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        await Relay.DisposeAsync().ConfigureAwait(false);
    }
}

using System.Net.Sockets;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Tests.Actors;
using Xunit;

namespace Lstp.Tunnel.Tests.Session;

/// <summary>
/// The peer end of a tunnel under test, played by the test across a real loopback link with no middle between:
/// the near end gets a plaintext <see cref="SecuredSession"/> (as if both ends had said --plaintext and the
/// handshake had run), and the test reads and writes the end-to-end frames carried in RELAY frames at the far end.
/// </summary>
public sealed class PeerEnd : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly RelayStream _relay;
    private readonly FrameStreamReader _frames;

    private PeerEnd(Socket socket)
    {
        _socket = socket;
        _relay = Relay(socket);
        // Room for any whole frame a near end sends (a bulk SERVICE_DATA is 256 KiB); the product's tunnel reader streams them.
        _frames = new FrameStreamReader(_relay, ProtocolLimits.DefaultMaxPayload + ProtocolLimits.HeaderSize);
    }

    /// <summary>
    /// Connects a near end's session (the master: it opens odd channel ids) to a peer the test plays; the peer said
    /// <paramref name="peerProperties"/> about itself (nothing by default: no services, no compression).
    /// </summary>
    public static async Task<(SecuredSession Session, PeerEnd Peer)> ConnectAsync(EndProperties? peerProperties = null)
    {
        var (nearSide, peerSide) = await SocketPair.CreateAsync();
        var secret = TunnelSecret.FromPassphrase("tunnel actor tests");
        var near = new EndSetup(secret, "near-end", "test", Plaintext: true);
        var far = new EndSetup(secret, "peer-end", "test", Plaintext: true);
        var pairing = new Pairing(near.Info(), near.Topology("local"), far.Info(), far.Topology("local"));
        var relay = Relay(nearSide);
        var session = new SecuredSession(relay, new FrameStreamReader(relay), relay, pairing, IsMaster: true, Encrypted: false, peerProperties ?? EndProperties.None);
        return (session, new PeerEnd(peerSide));
    }

    private static RelayStream Relay(Socket socket)
    {
        var link = new NetworkStream(socket, ownsSocket: true);
        return new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, TimeProvider.System);
    }

    /// <summary>Sends end-to-end frames to the near end, in order, in one flush.</summary>
    public async Task SendAsync(params Message[] messages)
    {
        foreach (var message in messages) await _relay.WriteAsync(message.ToFrame());
        await _relay.FlushAsync();
    }

    /// <summary>Sends bytes into the end-to-end stream as they are: a frame the codec would never write.</summary>
    public async Task SendRawAsync(byte[] bytes)
    {
        await _relay.WriteAsync(bytes);
        await _relay.FlushAsync();
    }

    /// <summary>The middle's in-band word that the peer's link closed (ERROR(PeerGone) on the link, not inside the tunnel).</summary>
    public Task MiddleSaysPeerLeftAsync(string reason) => _relay.SendLinkAsync(new Error(ErrorCode.PeerGone, reason), CancellationToken.None).AsTask();

    /// <summary>The next end-to-end frame from the near end (keepalive PINGs skipped), within 5 s unless told otherwise.</summary>
    public async Task<Message> NextAsync(TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            var message = await _frames.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, timeout.Token)
                ?? throw new EndOfStreamException("the near end closed the link");
            if (message is not Ping) return message;
        }
    }

    public async Task<T> ExpectAsync<T>(TimeSpan? within = null) where T : Message => Assert.IsType<T>(await NextAsync(within));

    /// <summary>Reads every frame until the near end closes the link (FIN), then closes this side too, as the middle would.</summary>
    public async Task<IReadOnlyList<Message>> ReadToCloseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var frames = new List<Message>();
        while (await _frames.ReadMessageAsync(ProtocolLimits.DefaultMaxPayload, timeout.Token) is { } message) frames.Add(message);
        await _relay.DisposeAsync();
        return frames;
    }

    /// <summary>Cuts the link abruptly: a reset, no SHUTDOWN, no FIN.</summary>
    public void Cut()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        try { await _relay.DisposeAsync(); } catch (Exception) { }
    }
}

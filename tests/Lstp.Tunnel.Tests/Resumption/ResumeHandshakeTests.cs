using System.Net.Sockets;
using System.Security.Cryptography;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Resumption;
using Lstp.Tunnel.Security;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Tests.Actors;
using Xunit;

namespace Lstp.Tunnel.Tests.Resumption;

/// <summary>
/// RESUME in the end-to-end handshake (docs/protocol.md §6.7), between two real ends over loopback links with a
/// stand-in middle that relays RELAY frames, and, for the replay test, swaps one end-to-end frame for a recorded one.
/// </summary>
public sealed class ResumeHandshakeTests
{
    private static readonly TunnelSecret Secret = TunnelSecret.FromKey(RandomNumberGenerator.GetBytes(32));

    /// <summary>One handshake's outcome at both ends.</summary>
    private sealed record Outcome(SecuredSession A, SecuredSession B, byte[] ResumeFromA);

    /// <summary>
    /// Runs the handshake between end A (master) and end B through a relay that copies every end-to-end frame A sends
    /// to B, except that it may replace A's RESUME frame with <paramref name="replaceResumeFromA"/>.
    /// </summary>
    private static async Task<Outcome> HandshakeAsync(bool plaintext, ResumeOffer? offerA, ResumeOffer? offerB,
        bool resumableB = true, byte[]? replaceResumeFromA = null)
    {
        var a = new EndSetup(Secret, "end-a", "test", plaintext) { InstanceId = [.. Enumerable.Repeat((byte)1, 16)] };
        var b = new EndSetup(Secret, "end-b", "test", plaintext) { InstanceId = [.. Enumerable.Repeat((byte)2, 16)] };
        var (aSide, aMiddle) = await SocketPair.CreateAsync();
        var (bMiddle, bSide) = await SocketPair.CreateAsync();
        var recorded = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var toB = PumpAsync(aMiddle, bMiddle, plaintext, frame =>
        {
            if (frame[0] != (byte)MessageType.Resume) return frame;
            recorded.TrySetResult(frame);
            return replaceResumeFromA ?? frame;
        }, stop.Token);
        var toA = PumpAsync(bMiddle, aMiddle, plaintext, frame => frame, stop.Token);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var sessionA = EndToEndHandshake.RunAsync(Relay(aSide), new Pairing(a.Info(), a.Topology("a"), b.Info(), b.Topology("b")), Secret, EndProperties.None, deadline.Token, offerA, resumable: true);
        var sessionB = EndToEndHandshake.RunAsync(Relay(bSide), new Pairing(b.Info(), b.Topology("b"), a.Info(), a.Topology("a")), Secret, EndProperties.None, deadline.Token, offerB, resumableB);
        var outcome = new Outcome(await sessionA, await sessionB, plaintext ? await recorded.Task : []);
        await stop.CancelAsync();
        return outcome;
    }

    private static RelayStream Relay(Socket socket)
    {
        var link = new NetworkStream(socket, ownsSocket: true);
        return new RelayStream(link, new FrameStreamReader(link), LinkTimings.Default, TimeProvider.System);
    }

    /// <summary>
    /// Copies RELAY frames from one link to the other. In plaintext it sees the end-to-end frames and passes each
    /// through <paramref name="change"/>; under TLS it sees ciphertext only and copies it as it is.
    /// </summary>
    private static async Task PumpAsync(Socket from, Socket to, bool plaintext, Func<byte[], byte[]> change, CancellationToken stop)
    {
        var reader = new FrameStreamReader(new NetworkStream(from), RelayStream.MaxRelayPayload + ProtocolLimits.HeaderSize);
        var writer = new NetworkStream(to);
        var stream = new List<byte>();
        try
        {
            while (await reader.ReadMessageAsync(RelayStream.MaxRelayPayload, stop) is { } message)
            {
                if (message is not Relay relay) continue; // keepalives stay between an end and its middle
                if (!plaintext)
                {
                    await writer.WriteAsync(relay.ToFrame(), stop);
                    continue;
                }
                stream.AddRange(relay.Data.ToArray());
                while (stream.Count >= ProtocolLimits.HeaderSize)
                {
                    var length = ProtocolLimits.HeaderSize + FrameCodec.ReadLength(stream.Take(ProtocolLimits.HeaderSize).ToArray());
                    if (stream.Count < length) break;
                    var frame = change([.. stream.Take(length)]);
                    stream.RemoveRange(0, length);
                    await writer.WriteAsync(new Relay(frame).ToFrame(), stop);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException)
        {
            // The test is over, or an end closed its link.
        }
    }

    private static ResumeOffer Offer(SecuredSession session, long received) => new(session.Resumption!, received);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Both_ends_agree_one_resumption_secret_and_resume_with_it_carrying_their_counts(bool plaintext)
    {
        var fresh = await HandshakeAsync(plaintext, null, null);
        Assert.False(fresh.A.Resumes || fresh.B.Resumes);
        Assert.NotNull(fresh.A.Resumption);
        Assert.Equal(fresh.A.Resumption!.Tunnel, fresh.B.Resumption!.Tunnel);

        var resumed = await HandshakeAsync(plaintext, Offer(fresh.A, 1234), Offer(fresh.B, 5678));

        Assert.True(resumed.A.Resumes && resumed.B.Resumes);
        Assert.Equal(5678, resumed.A.PeerReceived);
        Assert.Equal(1234, resumed.B.PeerReceived);
        Assert.Same(fresh.A.Resumption, resumed.A.Resumption);
    }

    [Fact]
    public async Task An_end_that_offers_nothing_is_a_new_tunnel_and_the_offer_is_not_taken()
    {
        var fresh = await HandshakeAsync(false, null, null);

        // B is another process now: it offers nothing.
        var stranger = await HandshakeAsync(false, Offer(fresh.A, 10), null);

        Assert.False(stranger.A.Resumes || stranger.B.Resumes);
        Assert.NotEqual(fresh.A.Resumption!.Tunnel, stranger.A.Resumption!.Tunnel); // a new secret from new shares
    }

    [Fact]
    public async Task Offers_for_two_different_tunnels_do_not_resume_either()
    {
        var first = await HandshakeAsync(false, null, null);
        var second = await HandshakeAsync(false, null, null);

        var mixed = await HandshakeAsync(false, Offer(first.A, 0), Offer(second.B, 0));

        Assert.False(mixed.A.Resumes || mixed.B.Resumes);
    }

    [Fact]
    public async Task An_end_with_resumption_off_sends_no_share_and_the_tunnel_cannot_resume()
    {
        var outcome = await HandshakeAsync(false, null, null, resumableB: false);

        Assert.Null(outcome.A.Resumption);
        Assert.Null(outcome.B.Resumption);
    }

    [Fact]
    public async Task A_middle_that_replays_an_earlier_RESUME_into_a_new_handshake_does_not_resume_the_tunnel()
    {
        // Plaintext, so the middle sees the RESUME frames at all (under TLS it never does).
        var fresh = await HandshakeAsync(plaintext: true, null, null);
        var resumed = await HandshakeAsync(plaintext: true, Offer(fresh.A, 100), Offer(fresh.B, 200));
        Assert.True(resumed.B.Resumes);
        var recordedFromA = resumed.ResumeFromA;
        Assert.True(MessageCodec.Decode(MessageType.Resume, recordedFromA.AsSpan(ProtocolLimits.HeaderSize)) is Resume { Offers: true });

        // Next time, the middle hands B the RESUME it recorded instead of A's fresh one.
        var replayed = await HandshakeAsync(plaintext: true, Offer(fresh.A, 100), Offer(fresh.B, 200), replaceResumeFromA: recordedFromA);

        // The recorded proof is bound to the earlier handshake's nonces: B does not resume on it.
        Assert.False(replayed.B.Resumes);
        Assert.Null(replayed.B.PeerReceived);
    }
}

using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Transport.Telemetry;
using Lstp.Tunnel.Telemetry;

namespace Lstp.Tunnel.Link;

/// <summary>What pairing produced: this end's setup as sent, and the peer's as the middle delivered it.</summary>
public sealed record Pairing(CommonUniqueInfo Mine, TopologyExchange MineSent, CommonUniqueInfo Peer, TopologyExchange Received)
{
    /// <summary>The middles between the ends, nearest the peer first (as they appended themselves toward us).</summary>
    public IReadOnlyList<TopologyEntry> MiddlesFromPeer => [.. Received.Entries.Skip(PeerEntryCount).Where(e => e.Kind == NodeKind.Middle)];

    /// <summary>The whole path from this end to the peer: this end, the middles, the peer end.</summary>
    public IReadOnlyList<TopologyEntry> Path =>
        [.. MineSent.Entries, .. Received.Entries.Skip(PeerEntryCount).Reverse(), .. Received.Entries.Take(PeerEntryCount)];

    private int PeerEntryCount => Received.Entries.TakeWhile(e => e.Kind == NodeKind.End).Count();
}

/// <summary>An end's link to a middle: dial, send its setup, wait to be paired.</summary>
public static class MiddleLink
{
    /// <summary>
    /// Dials <paramref name="middle"/>, registers this end, and waits until the middle pairs it. Returns the
    /// end-to-end stream over the link and what each side sent.
    /// </summary>
    public static Task<(RelayStream Relay, Pairing Pairing)> RegisterAsync(
        IDialer dialer, HostPort middle, CommonUniqueInfo info, TopologyExchange topology, string? token,
        LinkTimings timings, TimeProvider time, Action<Waiting>? onWaiting, CancellationToken cancellationToken) =>
        RegisterAsync(dialer, middle, info, topology, token, timings, time, onWaiting, onMembers: null, cancellationToken);

    /// <summary>As above; <paramref name="onMembers"/> hears each MIDDLE_MEMBERS the middle sends, for as long as the link lives.</summary>
    public static async Task<(RelayStream Relay, Pairing Pairing)> RegisterAsync(
        IDialer dialer, HostPort middle, CommonUniqueInfo info, TopologyExchange topology, string? token,
        LinkTimings timings, TimeProvider time, Action<Waiting>? onWaiting, Action<MiddleMembers>? onMembers, CancellationToken cancellationToken)
    {
        var dial = SetupTrace.Start(TelemetryNames.Dial);
        var stream = await dialer.DialAsync(middle, cancellationToken).ConfigureAwait(false);
        dial?.Done();
        RelayStream? relay = null;
        try
        {
            var register = SetupTrace.Start(TelemetryNames.Register);
            SetupTrace.Step? pair = null;
            var setup = new List<byte>(Preamble.Size + 512);
            setup.AddRange(Preamble.Create(LinkRole.End));
            if (!string.IsNullOrEmpty(token)) setup.AddRange(new Admission(token).ToFrame());
            setup.AddRange(info.ToFrame());
            setup.AddRange(topology.ToFrame());
            await stream.WriteAsync(setup.ToArray(), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);

            var reader = new FrameStreamReader(stream);
            await reader.ReadPreambleAsync(cancellationToken).ConfigureAwait(false);
            relay = new RelayStream(stream, reader, timings, time) { OnMembers = onMembers };
            var (peer, path) = await relay.AwaitPairingAsync(waiting =>
            {
                register?.Done();
                pair = SetupTrace.Start(TelemetryNames.Pair);
                onWaiting?.Invoke(waiting);
            }, cancellationToken).ConfigureAwait(false);
            if (pair is null) register?.Done(); // the peer was already waiting: registering was pairing
            else pair.Done();
            if (!peer.PairingKey.AsSpan().SequenceEqual(info.PairingKey) || peer.Slot != info.Slot)
            {
                throw new ProtocolException(ErrorCode.SetupAltered, "the middle paired us with an end of another tunnel");
            }
            return (relay, new Pairing(info, topology, peer, path));
        }
        catch
        {
            if (relay is not null) await relay.DisposeAsync().ConfigureAwait(false);
            else await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

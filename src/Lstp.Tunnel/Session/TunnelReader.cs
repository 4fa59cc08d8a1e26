using System.Buffers.Binary;
using Akka.Actor;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Link;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Session;

/// <summary>
/// Reads a tunnel's end-to-end stream in order. SERVICE_DATA goes straight into its channel's buffer, and PAUSE,
/// RESUME and FREE act on the channel from here, so they stay in order with its data; every other frame goes to
/// the tunnel actor. It never waits for an application, so one slow channel cannot stall the others.
/// </summary>
internal sealed class TunnelReader(Tunnel tunnel, IActorRef actor, TimeProvider time, Action requestAck)
{
    private long _lastHeard = time.GetTimestamp();

    /// <summary>Where each SERVICE_DATA's channel id is read: the reader is one loop, so one array serves every frame.</summary>
    private readonly byte[] _channelId = new byte[4];

    /// <summary>When the peer was last heard from (a <see cref="TimeProvider"/> timestamp).</summary>
    public long LastHeard => Volatile.Read(ref _lastHeard);

    /// <summary>Reads until the stream ends or fails, then tells the actor <see cref="TunnelCommand.ReaderEnded"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var reader = tunnel.Reader;
        var link = tunnel.Link;
        Exception? error = null;
        try
        {
            while (true)
            {
                // While splicing, a read takes a header and a channel id at most: the payload stays in the link's socket.
                var header = await reader.ReadHeaderAsync(ProtocolLimits.DefaultMaxPayload, stopping, _splicing ? ProtocolLimits.HeaderSize + 4 : int.MaxValue).ConfigureAwait(false);
                if (header is null) break;
                Volatile.Write(ref _lastHeard, time.GetTimestamp());
                // What arrived so far is owed a STREAM_ACK once enough of it has, so the peer's replay buffer drains.
                if (link.AckDue) requestAck();
                var (type, length) = header.Value;
                if (type != MessageType.StreamAck) link.MarkAckable();
                if (_splicing && type is not (MessageType.ServiceData or MessageType.ServiceDataCompressed) && ++_sinceBulk >= SplicingLinger) Splice(false);
                switch (type)
                {
                    case MessageType.ServiceData or MessageType.ServiceDataCompressed:
                        await ReceiveDataAsync(reader, type, length, stopping).ConfigureAwait(false);
                        continue;
                    case MessageType.StreamAck:
                        link.Acknowledged((long)((StreamAck)await reader.ReadBodyAsync(type, length, stopping).ConfigureAwait(false)).Received);
                        continue;
                    case MessageType.ServiceDataPause or MessageType.ServiceDataResume or MessageType.ServiceFreeRequest:
                        OnChannelSignal(await reader.ReadBodyAsync(type, length, stopping).ConfigureAwait(false));
                        continue;
                    case MessageType.Shutdown:
                        // Nothing follows SHUTDOWN: end each channel's downlink here, in order after its data.
                        var shutdown = await reader.ReadBodyAsync(type, length, stopping).ConfigureAwait(false);
                        link.PeerFinished();
                        foreach (var channel in tunnel.Table.Values) channel.PeerFinished(FreeFlags.None);
                        actor.Tell(new TunnelCommand.FromPeer(shutdown));
                        continue;
                    case MessageType.Error:
                        // The peer ends the tunnel: its link's end that follows is final, not a break to resume.
                        var peerError = await reader.ReadBodyAsync(type, length, stopping).ConfigureAwait(false);
                        link.PeerFinished();
                        actor.Tell(new TunnelCommand.FromPeer(peerError));
                        continue;
                    default:
                        actor.Tell(new TunnelCommand.FromPeer(await reader.ReadBodyAsync(type, length, stopping).ConfigureAwait(false)));
                        continue;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        actor.Tell(new TunnelCommand.ReaderEnded(error));
    }

    private async ValueTask ReceiveDataAsync(FrameStreamReader reader, MessageType type, int length, CancellationToken stopping)
    {
        if (length < 4) throw new ProtocolException(ErrorCode.Malformed, $"malformed {MessageNames.Of(type)}: no channel id");
        var got = 0;
        while (got < 4) got += await reader.ReadPayloadAsync(_channelId.AsMemory(got), 4 - got, stopping).ConfigureAwait(false);
        var id = BinaryPrimitives.ReadUInt32BigEndian(_channelId);
        var bulk = type == MessageType.ServiceData && length - 4 >= SocketSplice.Least && tunnel.Link.CanSplice;
        if (bulk)
        {
            _sinceBulk = 0;
            if (!_splicing) Splice(true);
        }
        else if (_splicing && ++_sinceBulk >= SplicingLinger) Splice(false);
        if (!tunnel.Table.TryGetValue(id, out var channel)) await ServiceChannel.SkipAsync(reader, length - 4, stopping).ConfigureAwait(false); // a channel that just closed
        else if (type == MessageType.ServiceDataCompressed) await channel.ReceiveCompressedDataAsync(reader, length - 4, stopping).ConfigureAwait(false);
        else await channel.ReceiveDataAsync(reader, length - 4, stopping, splice: bulk).ConfigureAwait(false);
    }

    /// <summary>
    /// The tunnel moves bulk SERVICE_DATA through its channels' pipes (<see cref="ServiceChannel.ReceiveDataAsync"/>): its
    /// stream then reads nothing ahead, which costs a read per header, so it stops after this many other frames in a row.
    /// </summary>
    private const int SplicingLinger = 8;

    private bool _splicing;
    private int _sinceBulk;

    private void Splice(bool on)
    {
        _splicing = on;
        _sinceBulk = 0;
        tunnel.Link.Splicing = on;
    }

    private void OnChannelSignal(Message message)
    {
        switch (message)
        {
            case ServiceDataPause pause when tunnel.Table.TryGetValue(pause.Channel, out var paused):
                paused.Gate.Pause();
                Telemetry.TunnelTelemetry.FlowControl(tunnel.Counters, pause: true, sent: false);
                break;
            case ServiceDataResume resume when tunnel.Table.TryGetValue(resume.Channel, out var resumed):
                resumed.Gate.Resume();
                Telemetry.TunnelTelemetry.FlowControl(tunnel.Counters, pause: false, sent: false);
                break;
            case ServiceFreeRequest free when tunnel.Table.TryGetValue(free.Channel, out var freed):
                freed.PeerFinished(free.Flags);
                break;
        }
    }
}

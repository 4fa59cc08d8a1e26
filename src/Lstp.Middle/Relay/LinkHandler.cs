using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Lstp.Middle.Pairing;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Relay;

/// <summary>
/// The handler of every link an end opens to this middle (<see cref="Links.LinkListener"/>), and the steps of docs/architecture.md setup steps
/// 2–3 that the link's actor (<see cref="Links.LinkActor"/>) runs in turn: read the setup, pair with a waiting
/// peer (whose tunnel a relay graph then carries, <see cref="RelayHosts"/>), hand the end on to another middle, and
/// the relay loop of a waiting or handed-on link: RELAY frames are copied to the peer's link header and all, their
/// payload never parsed.
/// </summary>
public sealed partial class LinkHandler(MiddleNode node, ILogger<LinkHandler> log)
{
    /// <summary>
    /// How long a link whose peer left may take to close itself: longer than an end's drain grace (5 s) plus its
    /// linger (3 s), so an end that is still handing the last bytes to its applications is not cut off.
    /// </summary>
    internal static readonly TimeSpan PeerLeftGrace = TimeSpan.FromSeconds(10);

    private MiddleOptions Options => node.Options;

    /// <summary>
    /// Hands the link to its actor (<see cref="Links.LinkActor"/>), which runs it through its states using the steps
    /// below, and holds the connection open until the actor is done with it.
    /// </summary>
    public async Task OnConnectedAsync(LinkSession link)
    {
        if (!node.AcceptsLinks)
        {
            link.Abort("the middle is stopping");
            return;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.LinkActors.Tell(new Links.LinksActor.Accept(link, this, done), Akka.Actor.ActorRefs.NoSender);
        await done.Task.ConfigureAwait(false);
    }

    /// <summary>Reads the preamble and setup frames of an end (or of a middle handing an end on); returns its NODE_CLAIM if any.</summary>
    internal async Task<LinkSetup> ReadSetupAsync(LinkSession link, CancellationToken cancellationToken)
    {
        string? claim = null;
        LinkSetup? special = null;
        var role = LinkRole.End;
        var input = link.Input;
        var gotPreamble = false;
        IReadOnlyList<string> tokens = Options.Tokens;
        var admitted = tokens.Count == 0;
        var sawAdmission = false;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var done = false;
            try
            {
                if (!gotPreamble && Preamble.TryRead(ref buffer, out role))
                {
                    gotPreamble = true;
                    link.PreambleSent = true;
                    link.Role = role;
                    // Node links present the cluster's secret; ends never can.
                    tokens = role == LinkRole.Node && Options.NodeTokens.Count > 0 ? Options.NodeTokens : Options.Tokens;
                    admitted = tokens.Count == 0;
                    await link.Output.SendAsync(Preamble.Create(role), cancellationToken).ConfigureAwait(false);
                }
                while (gotPreamble && !done && MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.MaxSetupPayload, out var message))
                {
                    switch (message)
                    {
                        case Admission admission when !admitted:
                            sawAdmission = true;
                            admitted = IsValidToken(admission.Token, tokens);
                            if (!admitted) throw new ProtocolException(ErrorCode.AdmissionDenied, "admission token refused");
                            link.AdmittedNode = role == LinkRole.Node;
                            break;
                        case PublishRequest publish when admitted && role == LinkRole.End && link.Info is null:
                            special = new LinkSetup(null, publish, null);
                            done = true;
                            break;
                        case DataLink data when role == LinkRole.Data && link.Info is null:
                            special = new LinkSetup(null, null, data);
                            done = true;
                            break;
                        case NodeClaim nodeClaim when admitted && role == LinkRole.Node && link.Info is null && claim is null:
                            claim = nodeClaim.Claim;
                            break;
                        case Origin origin when admitted && role == LinkRole.Node && link.Info is null && link.Origin is null:
                            link.Origin = origin.Source;
                            break;
                        case CommonUniqueInfo info when admitted && link.Info is null:
                            link.Info = info;
                            break;
                        case TopologyExchange topology when admitted && link.Info is not null:
                            if (topology.Entries.Count == 0 || topology.Entries[0].Kind != NodeKind.End) throw new ProtocolException(ErrorCode.Malformed, "TOPOLOGY_EXCHANGE must start with the end's own entry");
                            link.Topology = topology;
                            done = true;
                            break;
                        case Ping ping:
                            await link.Output.SendAsync(new Pong(ping.Value), cancellationToken).ConfigureAwait(false);
                            break;
                        case Admission when admitted && tokens.Count == 0 && link.Info is null && !sawAdmission:
                            sawAdmission = true; // an end configured with a token may use an open middle
                            break;
                        case Admission when admitted:
                            throw new ProtocolException(ErrorCode.ProtocolViolation, "ADMISSION sent twice");
                        case not Admission when !admitted:
                            throw new ProtocolException(ErrorCode.AdmissionDenied, "this middle requires an admission token (--token)");
                        default:
                            throw new ProtocolException(ErrorCode.ProtocolViolation, $"{message} is not allowed during setup");
                    }
                }
            }
            finally
            {
                // After the last setup frame, leave what follows unexamined so the relay (loop or graph) sees it at once.
                if (done) input.AdvanceTo(buffer.Start);
                else input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (done) return (special ?? new LinkSetup(claim, null, null)) with { Role = role };
            if (result.IsCompleted) throw new ConnectionAbortedException("the end closed during setup");
        }
    }

    /// <summary>What a link's setup asked for: a tunnel (possibly claimed by another node), a published port's control link, or a data link.</summary>
    internal sealed record LinkSetup(string? Claim, PublishRequest? Publish, DataLink? Data)
    {
        /// <summary>What the preamble said the link is: an end's, another middle's (node), or a published port's data link.</summary>
        public LinkRole Role { get; init; } = LinkRole.End;
    }

    private static bool IsValidToken(string presented, IReadOnlyList<string> tokens)
    {
        // Compare fixed-size digests in constant time, so neither length nor content leaks through timing.
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var ok = false;
        foreach (var token in tokens)
        {
            ok |= CryptographicOperations.FixedTimeEquals(digest, SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        }
        return ok;
    }

    /// <summary>
    /// docs/architecture.md setup step 3: link the two, send each the other's setup with this middle's entry
    /// appended, and start the tunnel's relay graph on one of the node's relay hosts (<see cref="RelayHosts"/>).
    /// The waiting link's relay loop hands its input over first, before its end hears of the pairing, so it stops
    /// between frames and the graph reads on from the very next byte. <paramref name="from"/> says where
    /// <paramref name="second"/>'s end came from, for the pairing metrics.
    /// </summary>
    internal async Task PairAsync(WaitingEnd waiting, LinkSession second, Telemetry.PairingPath from)
    {
        var first = waiting.Link;
        if (!await first.HandOverAsync().ConfigureAwait(false))
        {
            throw new ProtocolException(ErrorCode.PeerGone, "the waiting end left as its peer arrived");
        }
        var self = node.Self;
        var toFirst = second.Topology!.Append(self);
        var toSecond = first.Topology!.Append(self);
        var path = first.Topology.Entries.Append(self).Concat(second.Topology.Entries.Reverse()).ToList();
        var tunnel = new TunnelRecord(Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant(), first, second, path, Options.Time.GetUtcNow());

        first.Tunnel = second.Tunnel = tunnel;
        node.Tunnels.Add(tunnel);
        waiting.Outcome.TrySetResult(WaitOutcome.Paired(second));

        try
        {
            await first.Output.SendAsync(Concat(second.Info!.ToFrame(), toFirst.ToFrame()), first.Closed).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Its link closed as its peer arrived: nobody reads it any more, and it closes quietly.
            first.RelayEnded(ex);
            if (ex is OperationCanceledException or IOException) throw new ProtocolException(ErrorCode.PeerGone, "the waiting end left as its peer arrived"); // ConnectionAbortedException: its link closed
            throw;
        }
        try
        {
            await second.Output.SendAsync(Concat(first.Info!.ToFrame(), toSecond.ToFrame()), second.Closed).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The waiting end heard of a peer that is gone: it closes with ERROR(PeerGone), the end of its tunnel's stream.
            first.RelayEnded(new ProtocolException(ErrorCode.PeerGone, $"{second.EndName} left as they were paired"));
            throw;
        }
        // Peers are set only now: a link that failed above closes without telling the other (each closes with its own ERROR).
        first.Peer = second;
        second.Peer = first;
        node.Relays.Start(first, second);
        node.Metrics.Paired(from, Options.Time.GetElapsedTime(second.RegisteredAt));
        Log.Paired(log, first.EndName, second.EndName, tunnel.Id, tunnel.Resumed ? " (resuming a broken tunnel)" : "");
    }

    /// <summary>
    /// Hands <paramref name="down"/>'s end on to another middle: registers it there with this middle appended
    /// to its TOPOLOGY_EXCHANGE, passes the answers back (WAITING, ERROR, the peer's setup with this middle
    /// appended again), then relays both ways. Used by a cascade (--upstream) and by a cluster node whose end's
    /// peer waits at another node (<paramref name="claim"/> names it there).
    /// </summary>
    internal async Task CascadeAsync(LinkSession down, HostPort target, string? claim, Action? paired = null)
    {
        LinkSession? up = null;
        try
        {
            // A claim means a cluster node (pinned by what it announced); no claim, the cascade's upstream.
            var trust = claim is null ? Options.UpstreamTrust : Options.NodeTrust?.Invoke(target);
            up = await UpstreamLink.DialAsync(target, trust, down.Closed).ConfigureAwait(false);
            node.Metrics.NodeLinkOpened();
            _ = KeepUpstreamAliveAsync(up);
            var self = node.Self;
            var setup = new List<byte>(Preamble.Create(LinkRole.Node));
            if (Options.UpstreamToken is { } token) setup.AddRange(new Admission(token).ToFrame());
            if (claim is not null) setup.AddRange(new NodeClaim(claim).ToFrame());
            // The next middle counts this end against its own source, not against this middle (protocol §4.9).
            setup.AddRange(new Origin(down.Origin ?? down.SourceAddress).ToFrame());
            setup.AddRange(down.Info!.ToFrame());
            setup.AddRange(down.Topology!.Append(self).ToFrame());
            await up.Output.SendAsync(setup.ToArray(), down.Closed).ConfigureAwait(false);

            var (peerInfo, peerTopology) = await ReadUpstreamAnswersAsync(up, down).ConfigureAwait(false);
            up.Info = peerInfo;
            up.Topology = peerTopology;
            var toDown = peerTopology.Append(self);
            var path = down.Topology.Entries.Concat(toDown.Entries.Reverse()).ToList();
            var tunnel = new TunnelRecord(Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant(), down, up, path, Options.Time.GetUtcNow());
            down.Peer = up;
            up.Peer = down;
            down.Tunnel = up.Tunnel = tunnel;
            node.Tunnels.Add(tunnel);
            await down.Output.SendAsync(Concat(peerInfo.ToFrame(), toDown.ToFrame()), down.Closed).ConfigureAwait(false);
            // Through --upstream the end may have waited there for its peer; within a cluster the peer was already waiting.
            node.Metrics.Paired(claim is null ? Telemetry.PairingPath.Upstream : Telemetry.PairingPath.Node, Options.Time.GetElapsedTime(down.RegisteredAt));
            Log.Cascaded(log, down.EndName, peerInfo.EndName, target.ToString());
            paired?.Invoke();
        }
        catch (Exception ex)
        {
            var (code, reason) = ex switch
            {
                ProtocolException p => (p.Code, p.Message),
                Transport.Dialing.DialException d => (ErrorCode.PeerGone, $"cannot reach the next middle {target}: {d.Message}"),
                _ => (ErrorCode.PeerGone, $"the link to the next middle {target} failed: {ex.Message}"),
            };
            node.Metrics.Error(code, reason, down.Remote);
            Log.Refused(log, down.Remote, code, reason);
            await TrySendErrorAsync(down, code, reason).ConfigureAwait(false);
            down.End(reason);
            if (up is not null)
            {
                up.Abort(reason);
                node.Metrics.NodeLinkClosed();
            }
            return;
        }

        try
        {
            await RelayLoopAsync(up).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ProtocolException or OperationCanceledException or ConnectionResetException or ConnectionAbortedException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            // As for a link to an end: pass on what was relayed, then the end of stream (see OnConnectedAsync).
            _ = down.PeerLeftAsync($"{up.EndName} closed its link", PeerLeftGrace, Options.Time);
            await up.Output.CompleteAsync().ConfigureAwait(false);
            up.Abort("cascade closed");
            node.Metrics.NodeLinkClosed();
        }
    }

    /// <summary>The next middle drops links idle for its idle timeout: ping it as an end would, every 10 s.</summary>
    private async Task KeepUpstreamAliveAsync(LinkSession up)
    {
        ulong sequence = 0;
        try
        {
            while (!up.Closed.IsCancellationRequested)
            {
                await Task.Delay(Tunnel.Link.LinkTimings.Default.KeepaliveInterval, Options.Time, up.Closed).ConfigureAwait(false);
                await up.Output.SendAsync(new Ping(++sequence), up.Closed).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The link closed; its relay loop reports why.
        }
    }

    /// <summary>Reads the upstream middle's answers to a handed-on setup, passing WAITING and refusals back down.</summary>
    private async Task<(CommonUniqueInfo, TopologyExchange)> ReadUpstreamAnswersAsync(LinkSession up, LinkSession down)
    {
        var input = up.Input;
        var gotPreamble = false;
        CommonUniqueInfo? peer = null;
        while (true)
        {
            var result = await input.ReadAsync(down.Closed).ConfigureAwait(false);
            var buffer = result.Buffer;
            (CommonUniqueInfo, TopologyExchange)? paired = null;
            try
            {
                if (!gotPreamble && Preamble.TryRead(ref buffer, out _)) gotPreamble = true;
                while (gotPreamble && paired is null && MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.MaxSetupPayload, out var message))
                {
                    switch (message)
                    {
                        case Waiting waiting:
                            await down.Output.SendAsync(waiting, down.Closed).ConfigureAwait(false);
                            break;
                        case Ping ping:
                            await up.Output.SendAsync(new Pong(ping.Value), down.Closed).ConfigureAwait(false);
                            break;
                        case Pong:
                            break;
                        case CommonUniqueInfo info:
                            peer = info;
                            break;
                        case TopologyExchange topology when peer is not null:
                            paired = (peer, topology);
                            break;
                        case Error error:
                            throw new ProtocolException(error.Code, error.Reason);
                        case Redirect redirect:
                            await down.Output.SendAsync(redirect, down.Closed).ConfigureAwait(false);
                            throw new ProtocolException(ErrorCode.MiddleDraining, redirect.Reason);
                        default:
                            throw new ProtocolException(ErrorCode.ProtocolViolation, $"the next middle sent {message} during setup");
                    }
                }
            }
            finally
            {
                if (paired is not null) input.AdvanceTo(buffer.Start);
                else input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (paired is { } done) return done;
            if (result.IsCompleted) throw new ProtocolException(ErrorCode.PeerGone, "the next middle closed the link during setup");
        }
    }

    /// <summary>
    /// Reads this link until it closes, or for a waiting end, until its pairing asks for its input
    /// (<see cref="LinkSession.HandOverAsync"/>): true then, and the tunnel's relay graph reads on. RELAY frames are
    /// forwarded verbatim to the peer's output, in pieces as they arrive (a large frame is never buffered whole);
    /// link-level frames are answered here. A cascade's two links (<see cref="CascadeAsync"/>) are relayed by this
    /// loop to their end.
    /// </summary>
    internal async Task<bool> RelayLoopAsync(LinkSession link)
    {
        var input = link.Input;
        long relayRemaining = 0;
        using var idle = new CancellationTokenSource(Options.IdleTimeout, Options.Time);
        // Only the idle timeout, not link.Closed: it fires as soon as a read finds the end's FIN, and a read cancelled then could drop
        // what the end sent just before its FIN (its last data and SHUTDOWN), still buffered here. An aborted link
        // ends the read by itself; a peer that stops reading ends the flush by the idle timeout.
        var replies = new List<Message>();
        var h = new byte[ProtocolLimits.HeaderSize];
        var holding = false;
        var handedOver = false;
        try
        {
            while (true)
            {
                // A waiting end's loop is never inside a frame (RELAY before pairing is refused), and its end has not
                // heard of the pairing yet: here, between reads, everything it handled is advanced past.
                if (link.HandOverAsked) return handedOver = link.LetGo();
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (idle.IsCancellationRequested)
                {
                    throw new ProtocolException(ErrorCode.KeepaliveTimeout, $"no traffic for {Options.IdleTimeout.TotalSeconds:0} s");
                }
                idle.CancelAfter(Options.IdleTimeout);
                if (result.IsCanceled && (link.EndReason is not null || link.HandOverAsked))
                {
                    // Ended on purpose, or asked for the input: what this read returned stays unread for whoever reads next.
                    input.AdvanceTo(result.Buffer.Start);
                    if (link.EndReason is not null) return false;
                    return handedOver = link.LetGo();
                }
                var buffer = result.Buffer;
                var peer = link.Peer;
                var forwarded = false;
                try
                {
                    while (true)
                    {
                        if (relayRemaining > 0)
                        {
                            if (buffer.IsEmpty) break;
                            if (!holding)
                            {
                                await peer!.Output.Lock.WaitAsync(idle.Token).ConfigureAwait(false);
                                holding = true;
                            }
                            var take = Math.Min(relayRemaining, buffer.Length);
                            if (!peer!.Output.Completed)
                            {
                                Forward(peer.Output.Writer, buffer.Slice(0, take));
                                forwarded = true;
                            }
                            relayRemaining -= take;
                            Interlocked.Add(ref link.BytesIn, take);
                            node.Metrics.Relayed(take, fromFirst: link.Tunnel?.First == link);
                            buffer = buffer.Slice(take);
                            continue;
                        }
                        if (buffer.Length < ProtocolLimits.HeaderSize) break;
                        var header = buffer.Slice(0, ProtocolLimits.HeaderSize);
                        header.CopyTo(h);
                        var length = FrameCodec.ReadLength(h);
                        if (h[0] == (byte)MessageType.Relay)
                        {
                            if (length > Options.MaxFramePayload)
                            {
                                throw new ProtocolException(ErrorCode.FrameTooLarge, $"RELAY of {length} bytes exceeds this middle's limit of {Options.MaxFramePayload}");
                            }
                            if (peer is null)
                            {
                                // Pairing may have happened since this batch began; anything else is a violation.
                                peer = link.Peer ?? throw new ProtocolException(ErrorCode.ProtocolViolation, "RELAY before pairing");
                            }
                            if (!holding)
                            {
                                await peer.Output.Lock.WaitAsync(idle.Token).ConfigureAwait(false);
                                holding = true;
                            }
                            // A peer that has left gets nothing more; this link hears ERROR(PeerGone) and closes.
                            if (!peer.Output.Completed)
                            {
                                Forward(peer.Output.Writer, header);
                                forwarded = true;
                            }
                            relayRemaining = length;
                            buffer = buffer.Slice(ProtocolLimits.HeaderSize);
                            continue;
                        }
                        if (!MessageCodec.TryReadMessage(ref buffer, ProtocolLimits.MaxSetupPayload, out var message)) break;
                        HandleLinkFrame(link, message!, replies);
                    }
                    // Flush whatever was forwarded, also the part of a frame that continues in the next read.
                    if (forwarded) await peer!.Output.Writer.FlushAsync(idle.Token).ConfigureAwait(false);
                }
                finally
                {
                    // Keep the peer's output until the frame is complete: nothing (a PONG) may land inside it.
                    if (holding && relayRemaining == 0)
                    {
                        peer!.Output.Lock.Release();
                        holding = false;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
                // Answers go out after the peer's lock is released: never hold two links' locks at once.
                if (!holding)
                {
                    foreach (var reply in replies) await link.Output.SendAsync(reply, idle.Token).ConfigureAwait(false);
                    replies.Clear();
                }
                if (result.IsCompleted)
                {
                    link.InputEnded();
                    return false;
                }
            }
        }
        finally
        {
            if (holding && link.Peer is { } holder)
            {
                // Ended inside a frame whose header the peer has: whatever came next would land in its payload.
                if (relayRemaining > 0) holder.Output.CutMidFrame = true;
                holder.Output.Lock.Release();
            }
            if (!handedOver) link.NoLongerHandedOver();
        }
    }

    private static byte[] Concat(byte[] a, byte[] b) => [.. a, .. b];

    internal static void Forward(PipeWriter writer, in ReadOnlySequence<byte> bytes)
    {
        foreach (var segment in bytes) writer.Write(segment.Span);
    }

    /// <summary>A link-level frame on a paired (or waiting) link: PING answered (later, in <paramref name="replies"/>), TUNNEL_REPORT taken, ERROR the end.</summary>
    internal static void HandleLinkFrame(LinkSession link, Message message, List<Message> replies)
    {
        switch (message)
        {
            case Ping ping:
                replies.Add(new Pong(ping.Value));
                break;
            case Pong:
                break;
            case TunnelReport report when link.Tunnel is { } tunnel:
                tunnel.Report(report.Channels);
                break;
            case Error error:
                throw new ConnectionAbortedException($"the end reported {error.Code}: {error.Reason}");
            default:
                throw new ProtocolException(ErrorCode.ProtocolViolation, $"{message} is not allowed on this link now");
        }
    }

    internal static async Task TrySendErrorAsync(LinkSession link, ErrorCode code, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var frame = new Error(code, reason).ToFrame();
            // An end reads the middle's preamble first: a refusal before it (rate limit, bad preamble) starts with one.
            if (!link.PreambleSent) frame = [.. Preamble.Create(LinkRole.End), .. frame];
            await link.Output.SendAsync(frame, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: the connection is closing anyway.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "paired {First} with {Second} as tunnel {Tunnel}{Resuming}")]
        public static partial void Paired(ILogger logger, string first, string second, string tunnel, string resuming);

        [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "handed {End} on to {Next}; paired with {Peer}")]
        public static partial void Cascaded(ILogger logger, string end, string peer, string next);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "closed link from {Remote}: {Code} {Reason}")]
        public static partial void Refused(ILogger logger, string remote, ErrorCode code, string reason);
    }
}

using Akka.Actor;
using Lstp.Middle.Pairing;
using Lstp.Middle.Relay;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Links;

/// <summary>
/// One link at this middle, from its first byte to its close: docs/architecture.md setup steps 2–3 as states, one
/// handler each, switched with <c>Become</c>.
/// <code>
/// AwaitingSetup ──setup read──► Registering ──Stored──► Waiting ──paired by its peer──► Paired ──► Closing
///      │                            │ Matched / claimed ──────────────────────────────► Paired      ▲
///      │                            │ Forward (another node) / --upstream ────────────► Handed on ──┤
///      └── PUBLISH_REQUEST / DATA_LINK ──────────────────────────────────────────────► Publishing ──┘
/// </code>
/// The work of each state (reading the setup, registering, sending the pairing, the relay loop while waiting or handed
/// on) runs as a task of <see cref="LinkHandler"/> whose outcome comes back here as a message, as does the end of a
/// paired link's reading by its tunnel's relay graph (<see cref="RelayHosts"/>); the actor alone decides what follows,
/// so no outcome is dropped and every way out ends in Closing, which sends the ERROR a refusal owes, tells the peer, frees
/// the counters and completes the connection. Its parent (<see cref="LinksActor"/>) stops it on an unexpected failure;
/// <see cref="PostStop"/> then still releases what it held.
/// </summary>
internal sealed partial class LinkActor : UntypedActor
{
    private readonly MiddleNode _node;
    private readonly LinkHandler _work;
    private readonly LinkSession _link;
    private readonly TaskCompletionSource _done;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _setupDeadline;
    private WaitingEnd? _waiting;
    private bool _counted;
    private bool _countedFromSource;
    private bool _released;
    private bool _neighbour;
    private IActorRef _self = ActorRefs.Nobody;

    /// <summary>A wait that ended (paired, dropped) before WAITING went out: handled once Waiting. No stash for one message.</summary>
    private WaitEnded? _early;
    private bool _handedOnWaiting;

    public LinkActor(MiddleNode node, LinkHandler work, LinkSession link, TaskCompletionSource done, ILogger log)
    {
        _node = node;
        _work = work;
        _link = link;
        _done = done;
        _log = log;
        _setupDeadline = new CancellationTokenSource(node.Options.SetupDeadline, node.Options.Time);
    }

    /// <summary>The current state's name, for logs and tests.</summary>
    public string State { get; private set; } = nameof(AwaitingSetup);

    private MiddleOptions Options => _node.Options;

    // MESSAGES (each the outcome of a task this actor started)

    private sealed record SetupRead(LinkHandler.LinkSetup Setup);

    private sealed record Registered(RegisterResult Result);

    private sealed record WaitEnded(WaitOutcome Outcome);

    /// <summary>A step that answers the end (pairing, WAITING) is done; the relay (loop or graph) reads on.</summary>
    private sealed record Answered(string Next);

    /// <summary>The link's reading ended (the relay loop or graph, a publish link), normally or with an error.</summary>
    private sealed record Ended(Exception? Error);

    /// <summary>The waiting link's relay loop let go of its input: the tunnel's relay graph reads it now.</summary>
    private sealed class HandedOver
    {
        public static readonly HandedOver Instance = new();
    }

    /// <summary>The upstream middle paired the end this link handed on.</summary>
    private sealed class PairedUpstream
    {
        public static readonly PairedUpstream Instance = new();
    }

    /// <summary>Closing finished: the connection may go.</summary>
    private sealed class Closed
    {
        public static readonly Closed Instance = new();
    }

    protected override void PreStart()
    {
        _self = Self;
        _link.RelayEnded = RelayEnded;
        _node.Metrics.Connected();
        _node.Links.TryAdd(_link, 0);
        if (!_link.RateChecked && !_node.ExemptFromRate(_link.SourceAddress) && !_node.RateLimiter.TryAcquire(_link.SourceAddress))
        {
            Close(new ProtocolException(ErrorCode.RateLimited, $"too many new connections from {_link.SourceAddress} (limit {Options.MaxConnectionsPerSecondPerSource}/s)"));
            return;
        }
        if (!(_counted = _node.LinkCount.TryAddLink()))
        {
            Close(new ProtocolException(ErrorCode.TooManyLinks, $"this middle already holds its limit of {Options.MaxLinks} links"));
            return;
        }
        var read = ReadSetupAsync();
        read.PipeTo(Self, success: setup => new SetupRead(setup), failure: error => new Ended(error));
    }

    private async Task<LinkHandler.LinkSetup> ReadSetupAsync()
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_setupDeadline.Token, _link.Closed);
        try
        {
            return await _work.ReadSetupAsync(_link, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_setupDeadline.IsCancellationRequested)
        {
            throw new ProtocolException(ErrorCode.SetupTimeout, $"setup not completed within {Options.SetupDeadline.TotalSeconds:0.###} s");
        }
    }

    protected override void OnReceive(object message) => AwaitingSetup(message);

    // STATES

    /// <summary>AwaitingSetup: the preamble, ADMISSION and the end's setup frames, within the setup deadline.</summary>
    private void AwaitingSetup(object message)
    {
        switch (message)
        {
            case SetupRead read:
                _setupDeadline.Dispose();
                Decide(read.Setup);
                break;
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>What the setup asked for decides the next state.</summary>
    private void Decide(LinkHandler.LinkSetup setup)
    {
        // End links count against their source; node links (other middles) and data links (a published port's
        // clients, bounded there) do not, so one busy neighbour or a crowd of public clients locks out no end.
        if (setup.Role == LinkRole.End && !(_countedFromSource = _node.LinkCount.TryAddFromSource(_link.SourceAddress)))
        {
            Close(new ProtocolException(ErrorCode.TooManyLinks, $"{_link.SourceAddress} already holds {Options.MaxLinksPerSource} links to this middle (limit {Options.MaxLinksPerSource})"));
            return;
        }
        if (_link.AdmittedNode)
        {
            _neighbour = true;
            _node.Neighbours.Add(_link.SourceAddress);
        }
        if (setup.Publish is { } publish)
        {
            Go(nameof(Publishing), Publishing);
            Finish(_node.Publisher.RunControlAsync(_link, publish));
            return;
        }
        if (setup.Data is { } data)
        {
            Go(nameof(Publishing), Publishing);
            Finish(_node.Publisher.SpliceAsync(_link, data));
            return;
        }
        _link.RegisteredAt = Options.Time.GetTimestamp(); // the pairing latency runs from here
        // A cluster node tells each end where else it may go (protocol §4.8), before any answer to its setup.
        var members = setup.Role == LinkRole.End && Options.Members?.Invoke() is { Count: > 0 } list ? list : null;
        if (setup.Claim is { } claim)
        {
            // Another node claimed one of our waiting ends for this link's end: pair them here.
            Go(nameof(Registering), Registering);
            Answer(async () =>
            {
                await SendMembersAsync(members).ConfigureAwait(false);
                var claimed = _node.Registry.TakeClaimed(claim) ?? throw new ProtocolException(ErrorCode.PeerGone, "the claimed waiting end is no longer here");
                await _work.PairAsync(claimed, _link, Telemetry.PairingPath.Node).ConfigureAwait(false);
                return nameof(Paired);
            });
            return;
        }
        if (Options.Upstream is { } upstream)
        {
            // The upstream counts this end against its own source (ORIGIN); this middle applies its waiting limit
            // here, until the upstream pairs it.
            if (!_node.HandedOn.TryAdd(_link.BudgetSource, Options.MaxWaitingPerSource))
            {
                Close(new ProtocolException(ErrorCode.TooManyWaiting, $"{_link.BudgetSource} already has {Options.MaxWaitingPerSource} ends waiting through this middle (limit {Options.MaxWaitingPerSource})"));
                return;
            }
            _handedOnWaiting = true;
            Go(nameof(HandedOn), HandedOn);
            Answer(async () =>
            {
                await SendMembersAsync(members).ConfigureAwait(false);
                var self = Self;
                _ = _work.CascadeAsync(_link, upstream, null, () => self.Tell(PairedUpstream.Instance));
                return nameof(HandedOn);
            });
            return;
        }
        // Set before registering: a link that closes while the registry answers must still be unregistered.
        _waiting = new WaitingEnd(_link, Options.Time.GetUtcNow());
        var waiting = _waiting;
        Go(nameof(Registering), Registering);
        RegisterAsync(waiting, members).PipeTo(Self, success: result => new Registered(result), failure: error => new Ended(error));
    }

    private async Task<RegisterResult> RegisterAsync(WaitingEnd waiting, IReadOnlyList<string>? members)
    {
        await SendMembersAsync(members).ConfigureAwait(false);
        return await _node.Registry.RegisterAsync(waiting, _link.Closed).ConfigureAwait(false);
    }

    private async Task SendMembersAsync(IReadOnlyList<string>? members)
    {
        if (members is not null) await _link.Output.SendAsync(new MiddleMembers(members), _link.Closed).ConfigureAwait(false);
    }

    /// <summary>Registering: the pairing registry decides (pair now, wait, or hand on to the node that holds the peer).</summary>
    private void Registering(object message)
    {
        switch (message)
        {
            case Registered { Result: RegisterResult.Refused refused }:
                Close(new ProtocolException(refused.Code, refused.Reason));
                break;
            case Registered { Result: RegisterResult.Matched matched }:
                Answer(async () =>
                {
                    await _work.PairAsync(matched.Peer, _link, Telemetry.PairingPath.Local).ConfigureAwait(false);
                    return nameof(Paired);
                });
                break;
            case Registered { Result: RegisterResult.Forward forward }:
                Go(nameof(HandedOn), HandedOn);
                _ = _work.CascadeAsync(_link, forward.Node, forward.Claim);
                Relay();
                break;
            case Registered { Result: RegisterResult.Stored }:
                var waiting = _waiting!;
                Log.Waiting(_log, _link.EndName, _link.Remote);
                Answer(async () =>
                {
                    await _link.Output.SendAsync(new Waiting((uint)Options.WaitExpiry.TotalSeconds), _link.Closed).ConfigureAwait(false);
                    return nameof(Waiting);
                });
                waiting.Outcome.Task.PipeTo(Self, success: outcome => new WaitEnded(outcome));
                break;
            case Answered { Next: nameof(Paired) }:
                Go(nameof(Paired), Paired); // the tunnel's relay graph reads this link from the start
                break;
            case Answered { Next: nameof(Waiting) }:
                Go(nameof(Waiting), Waiting);
                Relay(); // keepalives while waiting; RELAY once a peer pairs with this end
                if (_early is { } earlyOutcome)
                {
                    _early = null;
                    Waiting(earlyOutcome);
                }
                break;
            case WaitEnded early:
                // Paired or dropped before WAITING went out: handled once waiting.
                _early = early;
                break;
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>Waiting: registered; its peer pairs with it (from the peer's own link), or the wait is dropped.</summary>
    private void Waiting(object message)
    {
        switch (message)
        {
            case WaitEnded { Outcome.Peer: not null }:
                Go(nameof(Paired), Paired);
                break;
            case HandedOver:
                Go(nameof(Paired), Paired); // the pairing took the input before its outcome arrived here
                break;
            case WaitEnded { Outcome: var dropped }:
                // Replaced by a newer end with the same key, or expired: tell the end why, then let it go.
                _node.Metrics.Error(dropped.Code, dropped.Reason, _link.Remote);
                EndWith(dropped.Code, dropped.Reason);
                break;
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>
    /// Paired: the tunnel's relay graph carries RELAY frames to the peer (<see cref="RelayHosts"/>) until this link
    /// ends; it tells this actor as <see cref="Ended"/> (<see cref="LinkSession.RelayEnded"/>).
    /// </summary>
    private void Paired(object message)
    {
        switch (message)
        {
            case WaitEnded:
                break; // the pairing that put this end here
            case HandedOver:
                break; // the waiting end's loop let go: the tunnel's relay graph reads on
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>HandedOn: another middle (a cascade's upstream, or the cluster node holding the peer) pairs this end.</summary>
    private void HandedOn(object message)
    {
        switch (message)
        {
            case Answered:
                Relay();
                break;
            case PairedUpstream:
                EndHandedOnWait();
                break;
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>Publishing: a published port's control link, or one of its data links, runs until it ends.</summary>
    private void Publishing(object message)
    {
        switch (message)
        {
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>Closing: the owed ERROR, the peer told, the counters freed, the output completed; then the actor stops.</summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case Closed:
                Context.Stop(Self);
                break;
            case Ended or WaitEnded or Answered or Registered or SetupRead or PairedUpstream or HandedOver:
                break; // late outcomes of the steps that were running
            default:
                Otherwise(message);
                break;
        }
    }

    /// <summary>What every state but Closing does with the rest: a step that ended closes the link; anything else is unexpected.</summary>
    private void Otherwise(object message)
    {
        if (message is Ended ended) Close(ended.Error);
        else Unexpected(message);
    }

    // TRANSITIONS

    private void Go(string name, UntypedReceive state)
    {
        State = name;
        Become(state);
    }

    /// <summary>Runs a step that answers the end; its outcome comes back as <see cref="Answered"/> (or <see cref="Ended"/> on failure).</summary>
    private void Answer(Func<Task<string>> step) => step().PipeTo(Self, success: next => new Answered(next), failure: error => new Ended(error));

    /// <summary>
    /// Reads the link until it closes (<see cref="LinkHandler.RelayLoopAsync"/>), or while it waits, until its pairing
    /// takes the input for the tunnel's relay graph (<see cref="HandedOver"/>).
    /// </summary>
    private void Relay() => _work.RelayLoopAsync(_link).PipeTo(Self, success: handedOver => handedOver ? HandedOver.Instance : new Ended(null), failure: error => new Ended(error));

    private void Finish(Task reading) => reading.PipeTo(Self, success: () => new Ended(null), failure: error => new Ended(error));

    /// <summary>The tunnel's relay graph stopped reading this link (called on the graph's thread): <see cref="Ended"/>.</summary>
    private void RelayEnded(Exception? error) => _self.Tell(new Ended(error));

    /// <summary>Ends the link gracefully after an ERROR (the relay loop then ends, and Closing follows).</summary>
    private void EndWith(ErrorCode code, string reason)
    {
        var link = _link;
        _ = Task.Run(async () =>
        {
            await LinkHandler.TrySendErrorAsync(link, code, reason).ConfigureAwait(false);
            link.End(reason);
        });
    }

    private void Close(Exception? error)
    {
        if (State == nameof(Closing)) return;
        Go(nameof(Closing), Closing);
        var refusal = Refusal(error);
        if (refusal is not null)
        {
            _node.Metrics.Error(refusal.Code, refusal.Message, _link.Remote);
            Log.Refused(_log, _link.Remote, refusal.Code, refusal.Message);
        }
        else if (error is not null && !IsGone(error))
        {
            Log.Failed(_log, _link.Remote, error.GetType().Name, error.Message);
        }
        Release(); // here, on the actor's thread: what it frees is shared with the node's other links
        CloseAsync(refusal).PipeTo(Self, success: () => Closed.Instance, failure: _ => Closed.Instance);
    }

    private async Task CloseAsync(ProtocolException? refusal)
    {
        if (refusal is not null) await LinkHandler.TrySendErrorAsync(_link, refusal.Code, refusal.Message).ConfigureAwait(false);
        // A peer's relay stuck flushing into this link would hold its output: then reset it instead.
        if (!await _link.Output.CompleteAsync().ConfigureAwait(false)) _link.Abort("its output was stuck as it closed");
    }

    /// <summary>Frees what the link held, once: its counts, its registration, its tunnel; tells its peer.</summary>
    private void Release()
    {
        if (_released) return;
        _released = true;
        _node.Links.TryRemove(_link, out _);
        if (_counted) _node.LinkCount.RemoveLink();
        if (_countedFromSource) _node.LinkCount.RemoveFromSource(_link.SourceAddress);
        if (_waiting is not null) _node.Registry.Unregister(_waiting);
        _link.NoLongerHandedOver(); // a pairing that asks for this link's input now hears it is gone
        if (_neighbour) _node.Neighbours.Remove(_link.SourceAddress);
        EndHandedOnWait();
        if (_link.Peer is { } peer)
        {
            // Whatever ended this link, the other side gets what was already relayed, then ERROR(PeerGone) as its end
            // of stream, and closes its link itself. A truncated end-to-end stream is still detected by the peer end
            // (TLS, or a frame cut short).
            _ = peer.PeerLeftAsync($"{_link.EndName} closed its link", LinkHandler.PeerLeftGrace, Options.Time);
        }
        if (_link.Tunnel is { } tunnel && _node.Tunnels.Remove(tunnel)) Log.Unpaired(_log, tunnel.First.EndName, tunnel.Second.EndName);
    }

    /// <summary>The end handed on upstream is paired there, or gone: it no longer waits against its source here.</summary>
    private void EndHandedOnWait()
    {
        if (!_handedOnWaiting) return;
        _handedOnWaiting = false;
        _node.HandedOn.Remove(_link.BudgetSource);
    }

    private static ProtocolException? Refusal(Exception? error) => error switch
    {
        ProtocolException protocol => protocol,
        AggregateException { InnerException: ProtocolException protocol } => protocol,
        _ => null,
    };

    /// <summary>The end went away (or its link had already closed when we wrote to it): nothing to tell it.</summary>
    private static bool IsGone(Exception error) =>
        (error is AggregateException { InnerException: { } inner } ? inner : error) is OperationCanceledException or ConnectionResetException or ConnectionAbortedException or IOException or ObjectDisposedException;

    private void Unexpected(object message) => Log.Unexpected(_log, _link.Remote, State, message.GetType().Name);

    protected override void PostStop()
    {
        // Stopped by its parent after a failure, or with the actor system: still free what it held.
        if (!_released)
        {
            Release();
            _link.Abort("the middle stopped");
        }
        _setupDeadline.Dispose();
        _done.TrySetResult();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "end {End} from {Remote} waits for its peer")]
        public static partial void Waiting(ILogger logger, string end, string remote);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "tunnel between {First} and {Second} closed")]
        public static partial void Unpaired(ILogger logger, string first, string second);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "closed link from {Remote}: {Code} {Reason}")]
        public static partial void Refused(ILogger logger, string remote, ErrorCode code, string reason);

        [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "link from {Remote} failed: {Error} {Reason}")]
        public static partial void Failed(ILogger logger, string remote, string error, string reason);

        [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "link from {Remote} in {State}: unexpected {Message} (dropped)")]
        public static partial void Unexpected(ILogger logger, string remote, string state, string message);
    }
}

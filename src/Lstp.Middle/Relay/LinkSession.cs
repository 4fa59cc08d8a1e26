using System.IO.Pipelines;
using Lstp.Protocol.Messages;

namespace Lstp.Middle.Relay;

/// <summary>
/// One link at this middle: an end's connection (or a downstream middle's), or this middle's own link to an
/// upstream middle in a cascade. Its setup, its output, and once paired, its peer.
/// </summary>
public sealed class LinkSession
{
    private readonly Action<string> _abort;

    /// <param name="inputEnded">Told when a read finds the end's side closed (its FIN): <paramref name="closed"/> may fire then.</param>
    /// <param name="plain">The link's socket when nothing sits between it and the pipes (no link TLS): the relay
    /// then writes RELAY frames to it straight from the buffer it read them into (<see cref="LinkOutput.Plain"/>).</param>
    public LinkSession(IDuplexPipe transport, string remote, CancellationToken closed, Action<string> abort, Action? inputEnded = null, System.Net.Sockets.NetworkStream? plain = null)
    {
        Transport = transport;
        Remote = remote;
        Closed = closed;
        _abort = abort;
        _inputEnded = inputEnded;
        Output = new LinkOutput(transport.Output, plain);
    }

    private readonly Action? _inputEnded;

    /// <summary>A read found the end's side closed: <see cref="Closed"/> fires (a wait for the end to leave, <see cref="PeerLeftAsync"/>, is over).</summary>
    public void InputEnded() => _inputEnded?.Invoke();

    /// <summary>What the link's input reads into, for a link the listener accepted: full-size reads once relayed.</summary>
    public Links.LinkReadPool? ReadPool { get; init; }

    /// <summary>True when the new-connection rate was already checked (before a TLS handshake): not again.</summary>
    public bool RateChecked { get; init; }

    public IDuplexPipe Transport { get; }
    public PipeReader Input => Transport.Input;
    public LinkOutput Output { get; }
    public string Remote { get; }
    public CancellationToken Closed { get; }
    public string SourceAddress => SourceOf(Remote);

    /// <summary>On a node link: the handed-on end's own source address, as the handing middle told it (ORIGIN).</summary>
    public string? Origin { get; set; }

    /// <summary>
    /// What this link's end counts against for per-source limits at this middle: its own address, or for an end
    /// handed on by another middle, its original source qualified by that middle (a downstream can only spend the
    /// budget of sources behind it, never that of an end that reaches this middle directly).
    /// </summary>
    public string BudgetSource => Origin is null ? SourceAddress : $"{Origin} via {SourceAddress}";

    /// <summary>A node link that presented one of this middle's tokens: its source is a known neighbour middle.</summary>
    public bool AdmittedNode { get; set; }

    /// <summary>The address part of a remote endpoint's text (IPv6 keeps its brackets): what per-source limits count by.</summary>
    public static string SourceOf(string remote) => remote.Contains(']') ? remote[..(remote.LastIndexOf(']') + 1)] : remote.Split(':')[0];

    /// <summary>What the link's preamble said it is: an end's, another middle's (node) or a published port's data link.</summary>
    public Protocol.Framing.LinkRole Role { get; set; } = Protocol.Framing.LinkRole.End;

    /// <summary>When its end asked to be paired (a <see cref="TimeProvider"/> timestamp): the start of the pairing latency.</summary>
    public long RegisteredAt { get; set; }

    /// <summary>True once this middle answered with its preamble (a refusal sent before must carry one).</summary>
    public bool PreambleSent { get; set; }

    public CommonUniqueInfo? Info { get; set; }
    public TopologyExchange? Topology { get; set; }

    /// <summary>Set once, by the pairing, before the tunnel's relay graph reads either link.</summary>
    public LinkSession? Peer { get; set; }

    /// <summary>A hand-over of this link's input that will not happen: the relay loop ended, or the link closed first.</summary>
    private static readonly TaskCompletionSource<bool> NoHandOver = Answered(false);

    /// <summary>A hand-over that happened (kept instead of the request, which need not live as long as the link).</summary>
    private static readonly TaskCompletionSource<bool> HandedOver = Answered(true);

    /// <summary>Null until the pairing asks this waiting link's relay loop for its input, or the loop ends first.</summary>
    private TaskCompletionSource<bool>? _handOver;

    /// <summary>
    /// Tells this link's actor that the tunnel's relay graph stopped reading the link (or that the pairing failed
    /// before it started), with the error that stopped it, if any. Set by the actor as it starts.
    /// </summary>
    public Action<Exception?> RelayEnded { get; set; } = static _ => { };

    /// <summary>
    /// Asks this waiting link's relay loop to let go of its input for the tunnel's relay graph: the loop stops at a
    /// frame boundary (its pending read cancelled), having advanced past every frame it handled and nothing more.
    /// True once it has; false when the loop ended (or the link closed) first.
    /// </summary>
    public Task<bool> HandOverAsync()
    {
        var request = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _handOver, request, null) is { } earlier) return earlier.Task;
        Input.CancelPendingRead();
        return request.Task;
    }

    /// <summary>The pairing asked the relay loop for this link's input (<see cref="HandOverAsync"/>).</summary>
    public bool HandOverAsked => Volatile.Read(ref _handOver) is { } asked && asked != NoHandOver;

    /// <summary>The relay loop lets go of the input (between frames, after its last AdvanceTo); false when the link closed first.</summary>
    public bool LetGo()
    {
        var request = Volatile.Read(ref _handOver);
        if (request is null || !request.TrySetResult(true)) return false;
        Interlocked.CompareExchange(ref _handOver, HandedOver, request);
        return true;
    }

    /// <summary>Nobody will hand this link's input over any more (its relay loop ended, or the link closed).</summary>
    public void NoLongerHandedOver() => Interlocked.CompareExchange(ref _handOver, NoHandOver, null)?.TrySetResult(false);

    private static TaskCompletionSource<bool> Answered(bool answer)
    {
        var answered = new TaskCompletionSource<bool>();
        answered.SetResult(answer);
        return answered;
    }

    /// <summary>The dashboard's record of the tunnel this link belongs to, once paired.</summary>
    public TunnelRecord? Tunnel { get; set; }

    /// <summary>Relay payload bytes this side sent through us.</summary>
    public long BytesIn;

    public string EndName => Info?.EndName ?? "(no setup yet)";

    /// <summary>Set before ending the read loop on purpose: the handler then closes gracefully (FIN after ERROR).</summary>
    public string? EndReason { get; private set; }

    /// <summary>Ends this link's read loop without a reset, so a final ERROR reaches the end.</summary>
    public void End(string why)
    {
        EndReason = why;
        Input.CancelPendingRead();
    }

    /// <summary>
    /// Tells this link's end, in band and after every byte already relayed to it, that its peer's link closed
    /// (ERROR(PeerGone): the end of its tunnel's stream), then leaves the closing to the end, which answers with a
    /// FIN once it has read everything; a link that does not close within <paramref name="grace"/> is ended here.
    /// Closing it from here at once would make this middle's kernel reset the link whenever the end had sent
    /// something not yet read (a RESUME, a PING), and a reset throws away what the kernel had not yet sent: the
    /// last relayed bytes.
    /// </summary>
    public async Task PeerLeftAsync(string why, TimeSpan grace, TimeProvider time)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Closed);
            deadline.CancelAfter(grace);
            await Output.SendAsync(new Error(Protocol.ErrorCode.PeerGone, why), deadline.Token).ConfigureAwait(false);
            await Task.Delay(grace, time, Closed).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (Closed.IsCancellationRequested)
        {
            return; // the end closed its link: done
        }
        catch (FrameCutException)
        {
            // Its peer's link died inside a frame sent here: a reset, never an ERROR inside that frame's payload.
            Abort($"{why}, inside a frame to it");
            return;
        }
        catch (Exception)
        {
            // The output failed: this link is ending on its own.
            return;
        }
        End($"its peer left and it did not close its link within {grace.TotalSeconds:0} s");
    }

    /// <summary>Closes the connection at once; the read loops on both links notice and end.</summary>
    public void Abort(string why) => _abort(why);
}

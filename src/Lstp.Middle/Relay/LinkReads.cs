using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Akka.Streams;
using Akka.Streams.Stage;
using Lstp.Protocol;

namespace Lstp.Middle.Relay;

/// <summary>
/// A link's input (its pipe, which reads the socket only when asked: <see cref="Links.LinkListener"/>) as a stream
/// of reads, each lent downstream without a copy: one ReadAsync per pull, and the next pull advances the pipe past
/// what downstream consumed (a pipe read loop's shape, split at the port). Completes when the end closes its side
/// or the link is ended on purpose (<see cref="LinkSession.End"/>); fails with KeepaliveTimeout when nothing arrives
/// for the idle timeout.
/// </summary>
internal sealed class LinkReads : GraphStage<SourceShape<LentRead>>
{
    private readonly RelaySide _side;

    /// <summary>One stage per side, shared by every tunnel (<see cref="TunnelRelay.Blueprint"/>).</summary>
    public LinkReads(RelaySide side)
    {
        _side = side;
        Shape = new SourceShape<LentRead>(Out);
    }

    public Outlet<LentRead> Out { get; } = new("link.reads");

    public override SourceShape<LentRead> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, TunnelRelay.Reading(inheritedAttributes, _side));

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly LinkReads _stage;
        private readonly LentRead _read;
        private readonly PipeReader _input;
        private readonly TimeSpan _idleTimeout;
        private IAsyncCallback<Logic>? _received;
        private Action? _readCompleted;
        private ConfiguredValueTaskAwaitable<ReadResult>.ConfiguredValueTaskAwaiter _pending;

        /// <summary>Downstream holds the last read: the next pull (or the stop) advances past it.</summary>
        private bool _lent;

        // (in, out) counts rather than the shape: the shape's constructor builds a log source string per logic.
        public Logic(LinkReads stage, LentRead read) : base(0, 1)
        {
            _stage = stage;
            _read = read;
            _input = _read.From.Input;
            _idleTimeout = _read.Node.Options.IdleTimeout;
            SetHandler(stage.Out, this);
        }

        public override void PreStart()
        {
            // One continuation for every read that does not complete at once: no allocation per read (a static
            // handler and the typed callback keep what each tunnel's stage holds for it small).
            _received = GetTypedAsyncCallback<Logic>(static logic => logic.Received());
            _readCompleted = () => _received.Invoke(this);
            _read.Idle = new CancellationTokenSource(_idleTimeout, _read.Node.Options.Time);
        }

        public override void OnPull()
        {
            if (_lent)
            {
                _lent = false;
                _input.AdvanceTo(_read.Consumed, _read.Buffer.End);
                if (_read.IsCompleted)
                {
                    CompleteStage();
                    return;
                }
            }
            try
            {
                _pending = _input.ReadAsync(_read.Idle.Token).ConfigureAwait(false).GetAwaiter();
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            if (_pending.IsCompleted) Received();
            else _pending.UnsafeOnCompleted(_readCompleted!);
        }

        /// <summary>The read is done (on the graph's thread): lend it downstream, or end.</summary>
        private void Received()
        {
            ReadResult result;
            try
            {
                result = _pending.GetResult();
            }
            catch (OperationCanceledException) when (_read.Idle.IsCancellationRequested)
            {
                Fail(new ProtocolException(ErrorCode.KeepaliveTimeout, $"no traffic for {_idleTimeout.TotalSeconds:0} s"));
                return;
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            _read.Idle.CancelAfter(_idleTimeout);
            if (result.IsCanceled && _read.From.EndReason is not null)
            {
                // Ended on purpose (LinkSession.End): a graceful end, the ERROR already on its way.
                _input.AdvanceTo(result.Buffer.Start);
                CompleteStage();
                return;
            }
            // A cancelled read without an end reason is the hand-over's own (the loop let go before reading): a read like any.
            _read.Buffer = result.Buffer;
            _read.Consumed = result.Buffer.Start;
            _read.IsCompleted = result.IsCompleted;
            _read.From.ReadPool?.Read(result.Buffer.Length);
            if (result.IsCompleted) _read.From.InputEnded();
            _lent = true;
            Push(_stage.Out, _read);
        }

        private void Fail(Exception error)
        {
            _read.Fail(error);
            FailStage(error);
        }

        public override void PostStop()
        {
            // Stopped while downstream held a read (it failed): give the pipe its read back before the link closes.
            if (_lent)
            {
                _lent = false;
                _input.AdvanceTo(_read.Buffer.Start);
            }
            _read.Stopped();
        }
    }
}

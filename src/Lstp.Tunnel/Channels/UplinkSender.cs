using System.Runtime.CompilerServices;
using Akka.Streams;
using Akka.Streams.Stage;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// The uplink's last stage: frames each read of the application (<see cref="ServiceChannel.Frame"/>: SERVICE_DATA, or
/// SERVICE_DATA_COMPRESSED when the compressor says so) and sends it once the peer lets the channel send and the tunnel's
/// writer has credit (<see cref="ServiceChannel.SendAsync"/>); it pulls the next read only then. Its task completes at
/// the application's FIN, or when the channel or its tunnel closes (the channel knows which), and fails when framing or
/// sending fails. One stage serves every channel: each materialization finds its channel in its attributes. The task's
/// continuations run on the stage's thread as it ends (the channel only notes the end: see ChannelGraphs).
/// </summary>
internal sealed class UplinkSender : GraphStageWithMaterializedValue<SinkShape<Chunk>, Task>
{
    public UplinkSender() => Shape = new SinkShape<Chunk>(In);

    public Inlet<Chunk> In { get; } = new("uplink.in");

    public override SinkShape<Chunk> Shape { get; }

    public override ILogicAndMaterializedValue<Task> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var done = new TaskCompletionSource();
        return new LogicAndMaterializedValue<Task>(new Logic(this, ServiceChannel.Of(inheritedAttributes), done), done.Task);
    }

    private sealed class Logic : InGraphStageLogic
    {
        private readonly UplinkSender _stage;
        private readonly ServiceChannel _channel;
        private readonly TaskCompletionSource _done;
        private readonly Action _onSendCompleted;
        private Action<int>? _sendCompleted;
        private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _pending;
        private bool _busy;

        public Logic(UplinkSender stage, ServiceChannel channel, TaskCompletionSource done) : base(stage.Shape)
        {
            _stage = stage;
            _channel = channel;
            _done = done;
            // One delegate for every send that waits: no allocation per frame.
            _onSendCompleted = () => _sendCompleted!(0);
            SetHandler(stage.In, this);
        }

        public override void PreStart()
        {
            _sendCompleted = GetAsyncCallback<int>(_ => Sent());
            Pull(_stage.In);
        }

        public override void OnPush()
        {
            var read = Grab(_stage.In);
            Chunk frame;
            try
            {
                frame = _channel.Frame(read);
            }
            catch (Exception ex)
            {
                read.Return();
                Fail(ex);
                return;
            }
            _busy = true;
            _pending = _channel.SendAsync(frame).ConfigureAwait(false).GetAwaiter();
            if (_pending.IsCompleted) Sent();
            else _pending.UnsafeOnCompleted(_onSendCompleted);
        }

        /// <summary>The send is done (on the stage's own thread): read on, or end where the channel or tunnel closes.</summary>
        private void Sent()
        {
            _busy = false;
            int sent;
            try
            {
                sent = _pending.GetResult();
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
            if (sent == ChannelGraphs.Closed || IsClosed(_stage.In)) Complete();
            else Pull(_stage.In);
        }

        public override void OnUpstreamFinish()
        {
            // A frame still on its way is sent before the uplink ends.
            if (_busy) SetKeepGoing(true);
            else Complete();
        }

        public override void OnUpstreamFailure(Exception e) => Fail(e);

        private void Complete()
        {
            _done.TrySetResult();
            CompleteStage();
        }

        private void Fail(Exception ex)
        {
            _done.TrySetException(ex);
            FailStage(ex);
        }

        public override void PostStop() => _done.TrySetException(new AbruptStageTerminationException(this));
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Streams;
using Akka.Streams.Stage;
using Lstp.Tunnel.Streams;

namespace Lstp.Tunnel.Channels;

/// <summary>
/// The downlink's first stage: takes the channel's inbox in order, one record per pull, decompressing a compressed
/// record just before it goes on (<see cref="ServiceChannel.Decompress"/>), so the channel holds at most one
/// decompressed frame. Completes when the inbox does; fails when a record does not decompress (the channel aborts).
/// One stage serves every channel: each materialization finds its channel in its attributes.
/// </summary>
internal sealed class InboxSource : GraphStage<SourceShape<Chunk>>
{
    public InboxSource() => Shape = new SourceShape<Chunk>(Out);

    public Outlet<Chunk> Out { get; } = new("inbox.out");

    public override SourceShape<Chunk> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, ServiceChannel.Of(inheritedAttributes));

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly InboxSource _stage;
        private readonly ServiceChannel _channel;
        private readonly ChannelReader<InboundRecord> _inbox;
        private readonly Action _onArrived;
        private Action<int>? _arrived;
        private ConfiguredValueTaskAwaitable<bool>.ConfiguredValueTaskAwaiter _waiting;

        public Logic(InboxSource stage, ServiceChannel channel) : base(stage.Shape)
        {
            _stage = stage;
            _channel = channel;
            _inbox = channel.Inbox;
            _onArrived = () => _arrived!(0);
            SetHandler(stage.Out, this);
        }

        public override void PreStart() => _arrived = GetAsyncCallback<int>(_ => { if (Waited()) OnPull(); });

        public override void OnPull()
        {
            while (true)
            {
                if (_inbox.TryRead(out var record))
                {
                    Chunk chunk;
                    try
                    {
                        chunk = _channel.Decompress(record);
                    }
                    catch (Exception ex)
                    {
                        FailStage(ex);
                        return;
                    }
                    Push(_stage.Out, chunk);
                    return;
                }
                _waiting = _inbox.WaitToReadAsync().ConfigureAwait(false).GetAwaiter();
                if (!_waiting.IsCompleted)
                {
                    _waiting.UnsafeOnCompleted(_onArrived);
                    return;
                }
                if (!Waited()) return;
            }
        }

        /// <summary>The inbox has a record (true), or it completed and so does the stage (false).</summary>
        private bool Waited()
        {
            bool more;
            try
            {
                more = _waiting.GetResult();
            }
            catch (Exception ex)
            {
                FailStage(ex);
                return false;
            }
            if (!more) CompleteStage();
            return more;
        }
    }
}

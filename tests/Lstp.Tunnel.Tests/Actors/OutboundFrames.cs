using System.Buffers;
using System.IO.Pipelines;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Session;

namespace Lstp.Tunnel.Tests.Actors;

/// <summary>
/// A tunnel's writer with the test at the far end of its stream: every frame the channel under test sends is
/// decoded and handed to the test in order.
/// </summary>
public sealed class OutboundFrames : IAsyncDisposable
{
    private readonly Pipe _stream = new();
    private readonly Task _writing;

    public OutboundFrames()
    {
        _writing = Writer.RunAsync(_stream.Writer.AsStream(), CancellationToken.None);
    }

    public TunnelWriter Writer { get; } = new();

    /// <summary>The next frame the writer wrote, within 5 s.</summary>
    public async Task<Message> NextAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var result = await _stream.Reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            if (FrameCodec.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPayload, out var type, out var payload))
            {
                var message = MessageCodec.Decode(type, payload);
                _stream.Reader.AdvanceTo(buffer.Start);
                return message;
            }
            if (result.IsCompleted) throw new EndOfStreamException("the writer ended");
            _stream.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Writer.Complete();
        await _writing.WaitAsync(TimeSpan.FromSeconds(5));
        await _stream.Writer.CompleteAsync();
    }
}

using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Link;

namespace Lstp.EndProxy.Publish;

/// <summary>
/// The agent's control link to the middle for one published port: PUBLISH_REQUEST out, PUBLISH_ACK back, then
/// keepalives and PLAIN_CLIENT announcements. Writes are serialised (the keepalive and the answers share it).
/// </summary>
internal sealed class PublishControlLink : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private PublishControlLink(HostPort middle, Stream stream, FrameStreamReader reader, PublishAck ack)
    {
        Middle = middle;
        _stream = stream;
        Reader = reader;
        Ack = ack;
    }

    public HostPort Middle { get; }

    public FrameStreamReader Reader { get; }

    public PublishAck Ack { get; }

    /// <summary>Dials the middle and asks for the port; the link once the middle answered PUBLISH_ACK.</summary>
    public static async Task<PublishControlLink> OpenAsync(HostPort middle, IDialer dialer, PublishRequest request, string? token, LinkTimings timings, CancellationToken cancellationToken)
    {
        var stream = await dialer.DialAsync(middle, cancellationToken).ConfigureAwait(false);
        try
        {
            var hello = new List<byte>(Preamble.Create(LinkRole.End));
            if (!string.IsNullOrEmpty(token)) hello.AddRange(new Admission(token).ToFrame());
            hello.AddRange(request.ToFrame());
            await stream.WriteAsync(hello.ToArray(), cancellationToken).ConfigureAwait(false);
            var reader = new FrameStreamReader(stream);
            await reader.ReadPreambleAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                silence.CancelAfter(timings.DeadAfter);
                switch (await reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, silence.Token).ConfigureAwait(false))
                {
                    case PublishAck ack:
                        return new PublishControlLink(middle, stream, reader, ack);
                    case Pong or Waiting or Ping:
                        continue;
                    case Error error:
                        throw new ProtocolException(error.Code, $"the middle refused to publish {request.Service} on port {request.Port}: {error.Reason}");
                    case null:
                        throw new LinkClosedException(ErrorCode.PeerGone, "the middle closed the control link");
                    case var other:
                        throw new ProtocolException(ErrorCode.ProtocolViolation, $"unexpected {other} before PUBLISH_ACK");
                }
            }
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task SendAsync(Message message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(message.ToFrame(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads the link until it ends, handing each message to <paramref name="received"/>; a silent link is dead.</summary>
    public async Task ReadAsync(Action<Message> received, LinkTimings timings, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            silence.CancelAfter(timings.DeadAfter);
            var message = await Reader.ReadMessageAsync(ProtocolLimits.MaxSetupPayload, silence.Token).ConfigureAwait(false)
                ?? throw new LinkClosedException(ErrorCode.PeerGone, "the middle closed the control link");
            received(message);
        }
    }

    /// <summary>PING every keepalive interval, so the middle (and any proxy between) keeps the link.</summary>
    public async Task KeepAliveAsync(LinkTimings timings, TimeProvider time, CancellationToken cancellationToken)
    {
        ulong sequence = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(timings.KeepaliveInterval, time, cancellationToken).ConfigureAwait(false);
            await SendAsync(new Ping(++sequence), cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }
}

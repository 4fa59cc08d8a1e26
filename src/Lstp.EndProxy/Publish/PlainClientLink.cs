using System.Net.Sockets;
using Lstp.EndProxy.Services;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Transport;
using Lstp.Transport.Dialing;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Link;

namespace Lstp.EndProxy.Publish;

/// <summary>
/// One plain client of a published port, at the agent: dial the service, open a fresh data link to the middle for
/// the client (DATA_LINK with the port's ticket), and copy bytes both ways as RELAY frames until both sides end.
/// </summary>
internal static class PlainClientLink
{
    /// <summary>Serves the client; returns null when it ended in order, else why it did not.</summary>
    public static async Task<string?> ServeAsync(ServiceSpec service, IDialer dialer, HostPort middle, PlainClient client, byte[] ticket, CancellationToken token)
    {
        Socket? socket = null;
        try
        {
            var dial = await ServiceCatalog.DialTcpAsync(service.Target, token).ConfigureAwait(false);
            socket = dial.Socket;
            await using var data = await dialer.DialAsync(middle, token).ConfigureAwait(false);
            var hello = new List<byte>(Preamble.Create(LinkRole.Data));
            hello.AddRange(new DataLink(client.ClientId, ticket).ToFrame());
            await data.WriteAsync(hello.ToArray(), token).ConfigureAwait(false);
            // Closing the data link at once closes the plain client: the service is not there.
            if (socket is null) return $"the service is not reachable: {dial.Reason}";
            var reader = new FrameStreamReader(data);
            await reader.ReadPreambleAsync(token).ConfigureAwait(false);
            using var copying = CancellationTokenSource.CreateLinkedTokenSource(token);
            var toService = ToServiceAsync(reader, socket, copying.Token);
            var toMiddle = ToMiddleAsync(socket, data, copying.Token);
            if (await Task.WhenAny(toService, toMiddle).ConfigureAwait(false) is { IsFaulted: true } or { IsCanceled: true })
            {
                // One direction failed (the data link broke, the service reset): the other would wait for ever on an
                // idle peer. Stop it; the finally below resets the service's connection.
                await copying.CancelAsync().ConfigureAwait(false);
            }
            await Task.WhenAll(toService, toMiddle).ConfigureAwait(false);
            socket.Dispose();
            socket = null;
            return null;
        }
        catch (Exception ex) when (ex is IOException or SocketException or DialException or OperationCanceledException or EndOfStreamException or ProtocolException)
        {
            return ex.Message;
        }
        finally
        {
            // Not ended in order (no data link, a broken one, a stop): the service sees a reset, never a clean end of stream.
            if (socket is not null) ChannelSockets.Reset(socket);
        }
    }

    /// <summary>RELAY frames from the middle into the service; an empty one ends the stream (half-close).</summary>
    private static async Task ToServiceAsync(FrameStreamReader reader, Socket service, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var header = await reader.ReadHeaderAsync(ProtocolLimits.DefaultMaxPayload, token).ConfigureAwait(false)
                ?? throw new EndOfStreamException("the data link closed without ending its stream");
            if (header.Type != MessageType.Relay) throw new ProtocolException(ErrorCode.ProtocolViolation, "a data link carries only RELAY frames");
            if (header.Length == 0)
            {
                service.Shutdown(SocketShutdown.Send);
                return;
            }
            for (var remaining = header.Length; remaining > 0;)
            {
                var n = await reader.ReadPayloadAsync(buffer, remaining, token).ConfigureAwait(false);
                await service.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, token).ConfigureAwait(false);
                remaining -= n;
            }
        }
    }

    /// <summary>The service's bytes to the middle as RELAY frames, then an empty one at its end of stream.</summary>
    private static async Task ToMiddleAsync(Socket service, Stream data, CancellationToken token)
    {
        var buffer = new byte[ProtocolLimits.HeaderSize + 64 * 1024];
        while (true)
        {
            var n = await service.ReceiveAsync(buffer.AsMemory(ProtocolLimits.HeaderSize), SocketFlags.None, token).ConfigureAwait(false);
            FrameCodec.WriteHeader(buffer, MessageType.Relay, n);
            await data.WriteAsync(buffer.AsMemory(0, ProtocolLimits.HeaderSize + n), token).ConfigureAwait(false);
            if (n == 0) return;
        }
    }
}

using System.Net.Sockets;
using Lstp.Testing;

namespace Lstp.Scenarios.Compression;

/// <summary>Sends data through a forward to an echo service and reads all of it back.</summary>
public static class Echo
{
    public static async Task<byte[]> RoundTripAsync(int port, byte[] data, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        using var client = await Net.ConnectAsync(port, cancel.Token);
        var send = Task.Run(async () =>
        {
            await client.SendAsync(data, SocketFlags.None, cancel.Token);
            client.Shutdown(SocketShutdown.Send);
        });
        var back = await Net.ReadToEndAsync(client, cancellationToken: cancel.Token);
        await send;
        return back;
    }
}

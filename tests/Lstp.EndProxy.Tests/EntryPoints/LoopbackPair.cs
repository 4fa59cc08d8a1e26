using System.Net;
using System.Net.Sockets;

namespace Lstp.EndProxy.Tests.EntryPoints;

/// <summary>Two ends of one real TCP connection on 127.0.0.1, so handshakes meet the kernel's short reads and resets.</summary>
internal sealed class LoopbackPair : IAsyncDisposable
{
    private LoopbackPair(NetworkStream client, NetworkStream server)
    {
        Client = client;
        Server = server;
    }

    /// <summary>The local application's side, which the test drives.</summary>
    public NetworkStream Client { get; }

    /// <summary>The entry point's side, which the handshake under test reads.</summary>
    public NetworkStream Server { get; }

    /// <summary>Cancels a test that would otherwise hang on a handshake that reads too much.</summary>
    public CancellationToken Timeout => _timeout.Token;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    public static async Task<LoopbackPair> OpenAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connect = client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        await connect;
        return new LoopbackPair(new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true));
    }

    /// <summary>Sends bytes from the client in one write, as clients that pipeline their handshake do.</summary>
    public async Task ClientSendsAsync(byte[] bytes) => await Client.WriteAsync(bytes, Timeout);

    /// <summary>Reads exactly <paramref name="count"/> bytes the server sent to the client.</summary>
    public async Task<byte[]> ClientReadsAsync(int count)
    {
        var bytes = new byte[count];
        await Client.ReadExactlyAsync(bytes, Timeout);
        return bytes;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes the client sent that the handshake left in the stream.</summary>
    public async Task<byte[]> ServerReadsAsync(int count)
    {
        var bytes = new byte[count];
        await Server.ReadExactlyAsync(bytes, Timeout);
        return bytes;
    }

    /// <summary>
    /// Closes the server side and returns what the client received before that. A close with unread
    /// input sends a reset, which also counts as the end.
    /// </summary>
    public async Task<byte[]> ServerClosesAndClientReadsRestAsync()
    {
        Server.Dispose();
        var received = new MemoryStream();
        var buffer = new byte[1024];
        try
        {
            int read;
            while ((read = await Client.ReadAsync(buffer, Timeout)) > 0) received.Write(buffer, 0, read);
        }
        catch (IOException)
        {
        }
        return received.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _timeout.Dispose();
    }
}

using System.Net;
using System.Net.Sockets;

namespace Lstp.Transport.Tests.Support;

/// <summary>A loopback TCP server that writes back whatever it reads: the target the tests dial through each proxy.</summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private EchoServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public HostPort Address => new("127.0.0.1", Port);

    public static EchoServer Start() => new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            _ = EchoAsync(client);
        }
    }

    private async Task EchoAsync(Socket client)
    {
        using var _ = client;
        await using var stream = new NetworkStream(client);
        try { await stream.CopyToAsync(stream, _stop.Token); }
        catch (Exception ex) when (ex is IOException or OperationCanceledException) { } // the test hung up or ended: nothing to echo to
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

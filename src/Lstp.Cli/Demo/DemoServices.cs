using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lstp.Cli.Demo;

/// <summary>The demo's two services on loopback: an echo service and a tiny HTTP service.</summary>
public sealed class DemoServices : IAsyncDisposable
{
    private readonly Socket _echo = Listen();
    private readonly Socket _http = Listen();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public DemoServices()
    {
        _loops.Add(Task.Run(() => AcceptAsync(_echo, EchoAsync)));
        _loops.Add(Task.Run(() => AcceptAsync(_http, HttpAsync)));
    }

    public int EchoPort => ((IPEndPoint)_echo.LocalEndPoint!).Port;
    public int HttpPort => ((IPEndPoint)_http.LocalEndPoint!).Port;

    private static Socket Listen()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(128);
        return socket;
    }

    private async Task AcceptAsync(Socket listener, Func<Socket, Task> serve)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await listener.AcceptAsync(_stop.Token);
                _ = Task.Run(() => serve(client));
            }
            catch (Exception)
            {
                return;
            }
        }
    }

    private async Task EchoAsync(Socket client)
    {
        using (client)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    await client.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                }
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception)
            {
            }
        }
    }

    private async Task HttpAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var buffer = new byte[8192];
                var request = new StringBuilder();
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0) return;
                    request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    if (request.Length > 16 * 1024) return;
                }
                var body = $"hello from the LSTP demo service at {DateTime.UtcNow:O}\n";
                var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
                await client.SendAsync(Encoding.UTF8.GetBytes(response), SocketFlags.None, _stop.Token);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _echo.Dispose();
        _http.Dispose();
        await Task.WhenAll(_loops);
    }
}

using System.Net.Sockets;
using System.Text;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Scenarios.WaysIn;

/// <summary>
/// A thousand applications connect to one entry point at the same instant. Each is served or refused with a
/// clear answer (a SOCKS or HTTP reply code, a closed or reset socket); none hangs. Afterwards both ends hold no
/// channel and the tunnel still carries data. The home-made actor kernel lost messages here: 383 of 1,000 hung.
/// </summary>
public sealed class BurstTests(ITestOutputHelper output)
{
    private const int Clients = 1000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private enum Outcome { Served, Refused, Hung }

    private delegate Task<bool> Handshake(Socket socket, EchoServer echo, CancellationToken token);

    [Fact]
    public Task A_thousand_simultaneous_connections_through_a_forward_are_all_answered() =>
        BurstAsync(entry: "forward", (_, _, _) => Task.FromResult(true));

    [Fact]
    public Task A_thousand_simultaneous_connections_through_socks_are_all_answered() =>
        BurstAsync(entry: "socks ", SocksConnectAsync);

    [Fact]
    public Task A_thousand_simultaneous_connections_through_http_connect_are_all_answered() =>
        BurstAsync(entry: "http-proxy ", HttpConnectAsync);

    private async Task BurstAsync(string entry, Handshake handshake)
    {
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, Microsoft.Extensions.Logging.LogLevel.Warning), new Dictionary<string, string> { ["echo"] = echo.Address },
            server: o => o with { Allow = [$"127.0.0.1:{echo.Port}"] },
            client: o => o with { Socks = new HostPort("127.0.0.1", 0), HttpProxy = new HostPort("127.0.0.1", 0) });
        await rig.OpenAsync();
        var port = rig.Client.Listeners.Single(l => l.What.StartsWith(entry, StringComparison.Ordinal)).Address.Port;

        // All connect at once, then, once every one is connected (or refused), all talk at once.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var talk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connecting = new TaskCompletionSource<bool>[Clients];
        for (var i = 0; i < Clients; i++) connecting[i] = new(TaskCreationOptions.RunContinuationsAsynchronously);
        var clients = Enumerable.Range(0, Clients).Select(async i =>
        {
            await start.Task;
            return await OneClientAsync(i, port, echo, handshake, connecting[i], talk.Task);
        }).ToArray();
        start.SetResult();
        await Task.WhenAll(connecting.Select(c => c.Task));
        talk.SetResult();
        var outcomes = await Task.WhenAll(clients);

        var served = outcomes.Count(o => o == Outcome.Served);
        var refused = outcomes.Count(o => o == Outcome.Refused);
        var hung = outcomes.Count(o => o == Outcome.Hung);
        output.WriteLine($"{entry.Trim()}: {Clients} at once: {served} served, {refused} refused, {hung} hung");
        Assert.Equal(0, hung);
        Assert.True(served > 0, "no connection was served at all");

        await Eventually.TrueAsync(() => rig.Client.Supervisor.Current?.ChannelCount == 0 && rig.Server.Supervisor.Current?.ChannelCount == 0,
            "both ends release every channel", TimeSpan.FromSeconds(30));
        Assert.Equal(Outcome.Served, await OneClientAsync(Clients, port, echo, handshake, new(), Task.CompletedTask));
    }

    /// <summary>
    /// Connects (with the entry point's handshake), says so, waits for <paramref name="talk"/>, says hello and reads the echo back;
    /// a reply code, a close or a reset is a refusal.
    /// </summary>
    private static async Task<Outcome> OneClientAsync(int index, int port, EchoServer echo, Handshake handshake, TaskCompletionSource<bool> connected, Task talk)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            try
            {
                await socket.ConnectAsync("127.0.0.1", port, deadline.Token);
                if (!await handshake(socket, echo, deadline.Token)) return Outcome.Refused;
            }
            finally
            {
                connected.TrySetResult(true);
            }
            await talk;
            var hello = Encoding.ASCII.GetBytes($"hello from client {index,6}\n");
            await socket.SendAsync(hello, SocketFlags.None, deadline.Token);
            var back = await Net.ReadExactlyAsync(socket, hello.Length, deadline.Token);
            return back.AsSpan().SequenceEqual(hello) ? Outcome.Served : throw new InvalidDataException($"client {index} got other bytes back");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return Outcome.Hung;
        }
        catch (Exception ex) when (ex is SocketException or EndOfStreamException)
        {
            return Outcome.Refused;
        }
    }

    /// <summary>RFC 1928 without authentication, CONNECT to the echo server; true on reply 0.</summary>
    private static async Task<bool> SocksConnectAsync(Socket socket, EchoServer echo, CancellationToken token)
    {
        await socket.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None, token);
        var method = await Net.ReadExactlyAsync(socket, 2, token);
        if (method[1] != 0) return false;
        await socket.SendAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(echo.Port >> 8), (byte)echo.Port }, SocketFlags.None, token);
        var reply = await Net.ReadExactlyAsync(socket, 10, token);
        return reply[1] == 0;
    }

    /// <summary>HTTP CONNECT to the echo server; true on a 200 status.</summary>
    private static async Task<bool> HttpConnectAsync(Socket socket, EchoServer echo, CancellationToken token)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: 127.0.0.1:{echo.Port}\r\n\r\n"), SocketFlags.None, token);
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var one = await Net.ReadExactlyAsync(socket, 1, token);
            head.Append((char)one[0]);
        }
        return head.ToString().StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
    }
}

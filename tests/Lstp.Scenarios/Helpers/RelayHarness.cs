using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Lstp.EndProxy.Helpers;
using Lstp.Testing;
using Lstp.Tunnel.Channels;

namespace Lstp.Scenarios.Helpers;

/// <summary>
/// The FTP helper's relay with no tunnel behind it: the test plays the FTP client on one side and the FTP
/// server (at the far end of the control channel) on the other, and sees every data channel the relay opens.
/// </summary>
public sealed class RelayHarness : IAsyncDisposable
{
    private RelayHarness(LineSocket client, LineSocket server, FakeChannels channels, Task relaying)
    {
        Client = client;
        Server = server;
        Channels = channels;
        Relaying = relaying;
    }

    public LineSocket Client { get; }
    public LineSocket Server { get; }
    public FakeChannels Channels { get; }
    public Task Relaying { get; }

    /// <summary>Starts a relay and passes the server's greeting through to the client.</summary>
    public static async Task<RelayHarness> StartAsync(TestLog log)
    {
        var (client, relaySide) = await LoopbackPair.CreateAsync(CancellationToken.None);
        var channels = new FakeChannels(Lstp.Tunnel.Actors.LstpActorSystem.Create("relay-harness", log));
        var relaying = new FtpHelper().RelayAsync(relaySide, channels, log.CreateLogger("Lstp.EndProxy.Helpers"), CancellationToken.None);
        var server = await channels.Control.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var harness = new RelayHarness(new LineSocket(client), new LineSocket(server), channels, relaying);
        await harness.Server.SendAsync("220 pyftpdlib ready.\r\n");
        if (await harness.Client.ReadLineAsync() != "220 pyftpdlib ready.\r\n") throw new InvalidOperationException("the greeting did not pass");
        return harness;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Socket.Dispose();
        Server.Socket.Dispose();
        await Relaying.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        while (Channels.Data.Reader.TryRead(out var data)) data.Local.Dispose();
        await Channels.ActorSystem.Terminate();
    }

    /// <summary>One data channel the relay asked for.</summary>
    public sealed record DataChannel(Socket Local, ushort Port, Func<ChannelOutcome, ValueTask>? OnOutcome);

    /// <summary>Stands in for the tunnel: the control channel is a loopback pair whose far side the test holds.</summary>
    public sealed class FakeChannels(Akka.Actor.ActorSystem system) : IHelperChannels
    {
        public Akka.Actor.ActorSystem ActorSystem => system;
        public Akka.Actor.IActorRefFactory Actors => system;

        public TaskCompletionSource<Socket> Control { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Channel<DataChannel> Data { get; } = System.Threading.Channels.Channel.CreateUnbounded<DataChannel>();

        public string Service => "files";

        public async Task<Socket?> OpenControlAsync(CancellationToken cancellationToken)
        {
            var (relaySide, serverSide) = await LoopbackPair.CreateAsync(cancellationToken);
            Control.SetResult(serverSide);
            return relaySide;
        }

        public bool OpenData(Socket local, ushort port, Func<ChannelOutcome, ValueTask>? onOutcome = null) =>
            Data.Writer.TryWrite(new DataChannel(local, port, onOutcome));

        public async Task<DataChannel> NextDataAsync() => await Data.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }
}

/// <summary>A socket the test reads and writes a line at a time (5 s at most per read).</summary>
public sealed class LineSocket(Socket socket)
{
    private readonly List<byte> _pending = [];

    public Socket Socket => socket;

    public async Task SendAsync(string text) => await socket.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None);

    /// <summary>The next line with its line end, or null at end of stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[4096];
        while (true)
        {
            var end = _pending.IndexOf((byte)'\n');
            if (end >= 0)
            {
                var line = Encoding.Latin1.GetString([.. _pending.Take(end + 1)]);
                _pending.RemoveRange(0, end + 1);
                return line;
            }
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0) return null;
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }
}

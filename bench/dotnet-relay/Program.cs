// dotnet-relay LISTEN_PORT TARGET_PORT [async|threads]
//
// Accepts on 127.0.0.1:LISTEN_PORT and carries each connection on to 127.0.0.1:TARGET_PORT, both ways, through a
// 256 KiB buffer per direction (socat -b 262144's size): receive, send it all, again. `async` (the default) awaits
// Socket.ReceiveAsync and SendAsync, the runtime's socket model that LSTP's ends and middle are built on (an epoll
// thread hands each completion to the thread pool); `threads` blocks a thread per direction in Receive and Send, as
// socat blocks in select. A clean end is passed on as a FIN; anything else closes both sockets.
using System.Net;
using System.Net.Sockets;

if (args.Length is < 2 or > 3 || !int.TryParse(args[0], out var listenPort) || !int.TryParse(args[1], out var targetPort)
    || (args.Length == 3 && args[2] is not ("async" or "threads")))
{
    Console.Error.WriteLine("usage: dotnet-relay LISTEN_PORT TARGET_PORT [async|threads]");
    return 2;
}
var threads = args.Length == 3 && args[2] == "threads";
const int BufferSize = 256 * 1024;

using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
listener.Bind(new IPEndPoint(IPAddress.Loopback, listenPort));
listener.Listen(512);
Console.WriteLine($"relaying 127.0.0.1:{listenPort} to 127.0.0.1:{targetPort} ({(threads ? "threads" : "async")})");
while (true)
{
    var accepted = await listener.AcceptAsync();
    var onward = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    try
    {
        await onward.ConnectAsync(new IPEndPoint(IPAddress.Loopback, targetPort));
    }
    catch (SocketException)
    {
        accepted.Dispose();
        onward.Dispose();
        continue;
    }
    // As LSTP's ends set theirs: a small message goes out at once.
    accepted.NoDelay = onward.NoDelay = true;
    var pair = new Pair(accepted, onward);
    if (threads)
    {
        new Thread(() => CopyBlocking(accepted, onward, pair)) { IsBackground = true }.Start();
        new Thread(() => CopyBlocking(onward, accepted, pair)) { IsBackground = true }.Start();
    }
    else
    {
        _ = CopyAsync(accepted, onward, pair);
        _ = CopyAsync(onward, accepted, pair);
    }
}

static async Task CopyAsync(Socket from, Socket to, Pair pair)
{
    var buffer = new byte[BufferSize];
    try
    {
        while (true)
        {
            var read = await from.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                pair.DirectionEnded();
                return;
            }
            for (var sent = 0; sent < read;) sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None);
        }
    }
    catch (Exception e) when (e is SocketException or ObjectDisposedException)
    {
        pair.Close();
    }
}

static void CopyBlocking(Socket from, Socket to, Pair pair)
{
    var buffer = new byte[BufferSize];
    try
    {
        while (true)
        {
            var read = from.Receive(buffer);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                pair.DirectionEnded();
                return;
            }
            for (var sent = 0; sent < read;) sent += to.Send(buffer, sent, read - sent, SocketFlags.None);
        }
    }
    catch (Exception e) when (e is SocketException or ObjectDisposedException)
    {
        pair.Close();
    }
}

/// <summary>A relayed connection's two sockets, closed once both directions have ended or either failed.</summary>
sealed class Pair(Socket first, Socket second)
{
    private int _open = 2;

    public void DirectionEnded()
    {
        if (Interlocked.Decrement(ref _open) == 0) Close();
    }

    public void Close()
    {
        first.Dispose();
        second.Dispose();
    }
}

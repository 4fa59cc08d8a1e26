using System.Net;
using System.Net.Sockets;

namespace Lstp.Testing;

/// <summary>Small loopback helpers for tests.</summary>
public static class Net
{
    /// <summary>Every port <see cref="FreePort"/> has handed out in this process.</summary>
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port that was free a moment ago, for processes that must be told their port. It is drawn below the
    /// kernel's ephemeral range (32768 and up on Linux), so outgoing connections made meanwhile cannot take it,
    /// and never twice in one test process: a test that draws a dozen ports before starting what binds them
    /// would otherwise, now and then, be given one port for two listeners.
    /// </summary>
    public static int FreePort()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            lock (HandedOut)
            {
                if (!HandedOut.Add(port)) continue;
            }
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free port found between 20000 and 32000");
    }

    public static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        return socket;
    }

    /// <summary>Reads until the peer half-closes (or <paramref name="max"/> bytes), returning all bytes read.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket, int max = int.MaxValue, CancellationToken cancellationToken = default)
    {
        var result = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (result.Length < max)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0) break;
            result.Write(buffer, 0, n);
        }
        return result.ToArray();
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes or throws at end of stream.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cancellationToken);
            if (n == 0) throw new EndOfStreamException($"closed after {got} of {count} bytes");
            got += n;
        }
        return buffer;
    }
}

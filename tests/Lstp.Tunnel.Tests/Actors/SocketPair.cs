using System.Net;
using System.Net.Sockets;

namespace Lstp.Tunnel.Tests.Actors;

/// <summary>Two connected loopback sockets: the application's side and the side a channel owns.</summary>
public static class SocketPair
{
    public static async Task<(Socket Application, Socket Channel)> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var application = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepting = listener.AcceptAsync();
        await application.ConnectAsync(listener.LocalEndPoint!);
        return (application, await accepting);
    }
}

using System.Net.Security;
using System.Net.Sockets;

namespace Lstp.Transport.Dialing;

/// <summary>TLS to the middle that still lets its owner reach the socket underneath (to close the link with a FIN).</summary>
public sealed class LinkTlsStream(Stream inner) : SslStream(inner, leaveInnerStreamOpen: false)
{
    public Stream Inner => InnerStream;
}

/// <summary>Finds the socket under a dialled stream: plain TCP, through a proxy, or under link TLS.</summary>
public static class LinkSocket
{
    public static Socket? Of(Stream stream) => stream switch
    {
        NetworkStream network => network.Socket,
        LinkTlsStream tls => Of(tls.Inner),
        _ => null,
    };
}

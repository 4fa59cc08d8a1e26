namespace Lstp.EndProxy.EntryPoints;

/// <summary>A local client broke its entry-point handshake; the caller closes the client and logs the message.</summary>
public abstract class EntryPointHandshakeException(string message) : Exception(message);

/// <summary>The client spoke broken or unsupported SOCKS5; <see cref="ReplySent"/> is the reply already written, if any.</summary>
public sealed class Socks5HandshakeException(string message, Socks5Reply? replySent = null) : EntryPointHandshakeException(message)
{
    public Socks5Reply? ReplySent { get; } = replySent;
}

/// <summary>The client sent a request the CONNECT proxy refuses; <see cref="StatusSent"/> is the response already written.</summary>
public sealed class HttpConnectHandshakeException(string message, int statusSent) : EntryPointHandshakeException(message)
{
    public int StatusSent { get; } = statusSent;
}

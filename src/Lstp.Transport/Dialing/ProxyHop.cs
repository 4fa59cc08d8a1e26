using System.Net.Sockets;
using System.Text;

namespace Lstp.Transport.Dialing;

/// <summary>What the two proxy dialers share: opening the TCP connection to the proxy and naming it in messages.</summary>
internal static class ProxyHop
{
    /// <summary>Connects to the proxy itself; a failure here is the proxy being down, so it says so.</summary>
    public static async ValueTask<NetworkStream> ConnectAsync(string kind, HostPort proxy, CancellationToken cancellationToken)
    {
        try
        {
            var socket = await TcpDialer.ConnectSocketAsync(proxy, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (DialException ex) when (ex.InnerException is SocketException socketError)
        {
            throw new DialException(DialFailure.Unreachable, $"cannot reach {kind} proxy {proxy}: {socketError.SocketErrorCode} ({socketError.Message})", socketError);
        }
    }

    /// <summary>
    /// Runs the handshake on a fresh connection and hands the connection over only if it succeeded. A proxy that
    /// hangs up or resets mid-handshake is <see cref="DialFailure.ProxyProtocol"/>: it did not answer as the RFC says.
    /// </summary>
    public static async ValueTask<Stream> HandshakeAsync(
        string kind, HostPort proxy, Func<Stream, CancellationToken, ValueTask> handshake, CancellationToken cancellationToken)
    {
        using var span = Telemetry.TelemetryNames.Spans.StartActivity(Telemetry.TelemetryNames.ProxyHop);
        span?.SetTag("lstp.proxy", $"{kind.ToLowerInvariant()} {proxy}");
        var stream = await ConnectAsync(kind, proxy, cancellationToken).ConfigureAwait(false);
        try
        {
            await handshake(stream, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            var what = ex is EndOfStreamException ? "closed the connection" : $"broke the connection ({ex.Message})";
            throw new DialException(DialFailure.ProxyProtocol, $"{kind} proxy {proxy} {what} during the handshake", ex);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A proxy's bytes, cut short and made printable, so a garbage answer can be quoted on one line.</summary>
    public static string Quote(ReadOnlySpan<byte> bytes)
    {
        const int MaxQuoted = 60; // enough to recognise what answered (an SSH banner, an HTML page), short enough for one line
        var builder = new StringBuilder();
        foreach (var b in bytes[..Math.Min(bytes.Length, MaxQuoted)])
            builder.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        if (bytes.Length > MaxQuoted) builder.Append("...");
        return builder.ToString();
    }
}

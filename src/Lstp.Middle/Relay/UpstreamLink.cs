using System.IO.Pipelines;
using Lstp.Transport;
using Lstp.Transport.Dialing;

namespace Lstp.Middle.Relay;

/// <summary>This middle's own link to another middle (a cascade's upstream, or the cluster node holding the peer).</summary>
public static class UpstreamLink
{
    /// <summary>Dials <paramref name="target"/>, with TLS checked as <paramref name="trust"/> says when it is given.</summary>
    public static async Task<LinkSession> DialAsync(HostPort target, MiddleTrust? trust, CancellationToken cancellationToken)
    {
        IDialer dialer = trust is null ? TcpDialer.Instance : new TlsDialer(TcpDialer.Instance, trust);
        var stream = await dialer.DialAsync(target, cancellationToken).ConfigureAwait(false);
        var closed = new CancellationTokenSource();
        var pipe = new LinkPipe(PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65536, minimumReadSize: 16384)), PipeWriter.Create(stream));
        return new LinkSession(pipe, target.ToString(), closed.Token, _ =>
        {
            closed.Cancel();
            stream.Dispose();
        });
    }
}

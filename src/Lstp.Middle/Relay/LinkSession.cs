using System.IO.Pipelines;
using Lstp.Protocol.Messages;
using Microsoft.AspNetCore.Connections;

namespace Lstp.Middle.Relay;

/// <summary>
/// One link at this middle: an end's connection (or a downstream middle's), or this middle's own link to an
/// upstream middle in a cascade. Its setup, its output, and once paired, its peer.
/// </summary>
public sealed class LinkSession
{
    private readonly Action<string> _abort;

    public LinkSession(IDuplexPipe transport, string remote, CancellationToken closed, Action<string> abort)
    {
        Transport = transport;
        Remote = remote;
        Closed = closed;
        _abort = abort;
        Output = new LinkOutput(transport.Output);
    }

    /// <summary>A link Kestrel accepted.</summary>
    public static LinkSession Accepted(ConnectionContext connection) =>
        new(connection.Transport, connection.RemoteEndPoint?.ToString() ?? "unknown", connection.ConnectionClosed,
            why => connection.Abort(new ConnectionAbortedException(why)));

    public IDuplexPipe Transport { get; }
    public PipeReader Input => Transport.Input;
    public LinkOutput Output { get; }
    public string Remote { get; }
    public CancellationToken Closed { get; }
    public string SourceAddress => Remote.Contains(']') ? Remote[..(Remote.LastIndexOf(']') + 1)] : Remote.Split(':')[0];

    /// <summary>True once this middle answered with its preamble (a refusal sent before must carry one).</summary>
    public bool PreambleSent { get; set; }

    public CommonUniqueInfo? Info { get; set; }
    public TopologyExchange? Topology { get; set; }

    /// <summary>Set once, by the pairing, before either end hears of it.</summary>
    public LinkSession? Peer { get; set; }

    /// <summary>The dashboard's record of the tunnel this link belongs to, once paired.</summary>
    public TunnelRecord? Tunnel { get; set; }

    /// <summary>Relay payload bytes this side sent through us.</summary>
    public long BytesIn;

    public string EndName => Info?.EndName ?? "(no setup yet)";

    /// <summary>Set before ending the read loop on purpose: the handler then closes gracefully (FIN after ERROR).</summary>
    public string? EndReason { get; private set; }

    /// <summary>Ends this link's read loop without a reset, so a final ERROR reaches the end.</summary>
    public void End(string why)
    {
        EndReason = why;
        Input.CancelPendingRead();
    }

    /// <summary>Closes this link gracefully: what was already forwarded is flushed, then a FIN follows.</summary>
    public async Task FinishAsync()
    {
        await Output.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await Output.Writer.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            Output.Lock.Release();
        }
    }

    /// <summary>Closes the connection at once; the read loops on both links notice and end.</summary>
    public void Abort(string why) => _abort(why);
}

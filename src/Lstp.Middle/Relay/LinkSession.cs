using System.IO.Pipelines;
using Lstp.Protocol.Messages;
using Microsoft.AspNetCore.Connections;

namespace Lstp.Middle.Relay;

/// <summary>One end's link to this middle: its setup, its output, and once paired, its peer.</summary>
public sealed class LinkSession(ConnectionContext connection, string remote)
{
    public ConnectionContext Connection => connection;
    public PipeReader Input => connection.Transport.Input;
    public LinkOutput Output { get; } = new(connection.Transport.Output);
    public string Remote => remote;
    public string SourceAddress => remote.Contains(']') ? remote[..(remote.LastIndexOf(']') + 1)] : remote.Split(':')[0];

    public CommonUniqueInfo? Info { get; set; }
    public TopologyExchange? Topology { get; set; }

    /// <summary>Set once, by the pairing, before either end hears of it.</summary>
    public LinkSession? Peer { get; set; }

    /// <summary>The dashboard's record of the tunnel this link belongs to, once paired.</summary>
    public TunnelRecord? Tunnel { get; set; }

    /// <summary>Relay payload bytes this end sent through us.</summary>
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

    /// <summary>Closes the connection; the read loops on both links notice and end.</summary>
    public void Abort(string why) => connection.Abort(new ConnectionAbortedException(why));
}

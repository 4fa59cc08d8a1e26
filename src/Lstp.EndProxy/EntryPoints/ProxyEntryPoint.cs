using System.Net;
using System.Net.Sockets;
using Lstp.EndProxy.Connect;
using Lstp.EndProxy.Policy;
using Lstp.Protocol;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Microsoft.Extensions.Logging;
using TunnelHandle = Lstp.Tunnel.Session.Tunnel;

namespace Lstp.EndProxy.EntryPoints;

/// <summary>
/// What SOCKS5 and HTTP CONNECT entry points share: read the client's request, refuse early what the peer's
/// announced allow-list forbids, open a channel to the destination, and answer the client with the outcome
/// (in its own protocol's words) before any byte of the destination's reaches it.
/// </summary>
public abstract partial class ProxyEntryPoint(TunnelSupervisor supervisor, TimeSpan waitForTunnel, ILogger log)
{
    private (TunnelHandle Tunnel, AllowList Policy)? _peerPolicy;
    private int _handshaking;

    /// <summary>How long a client may take to send its request (<see cref="EntryPointLimits.HandshakeTimeout"/>).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = EntryPointLimits.HandshakeTimeout;

    /// <summary>Requests read at once (<see cref="EntryPointLimits.MaxHandshakes"/>).</summary>
    public int MaxHandshakes { get; init; } = EntryPointLimits.MaxHandshakes;

    protected abstract string Kind { get; }

    /// <summary>Reads the request; throws <see cref="EntryPointHandshakeException"/> (already answered) or EndOfStream.</summary>
    protected abstract Task<(string Host, int Port)> ReadRequestAsync(Stream client, CancellationToken cancellationToken);

    protected abstract Task AnswerAsync(Stream client, ErrorCode code, string reason, CancellationToken cancellationToken);

    public async Task OnClientAsync(Socket client, CancellationToken cancellationToken)
    {
        var stream = new NetworkStream(client, ownsSocket: false);
        string host;
        int port;
        if (Interlocked.Increment(ref _handshaking) > MaxHandshakes)
        {
            Interlocked.Decrement(ref _handshaking);
            Log.TooManyHandshakes(log, Kind, MaxHandshakes);
            client.Dispose();
            return;
        }
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(HandshakeTimeout);
            try
            {
                (host, port) = await ReadRequestAsync(stream, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is EntryPointHandshakeException or EndOfStreamException or IOException)
            {
                Log.BadRequest(log, Kind, ex.Message);
                client.Dispose();
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Log.BadRequest(log, Kind, $"no request within {HandshakeTimeout.TotalSeconds:0.#} s");
                client.Dispose();
                return;
            }
            finally
            {
                Interlocked.Decrement(ref _handshaking);
            }
        }

        var tunnel = await supervisor.WaitForTunnelAsync(waitForTunnel, cancellationToken).ConfigureAwait(false);
        if (tunnel is null)
        {
            await RefuseAsync(client, stream, ErrorCode.PeerGone, $"no tunnel open within {waitForTunnel.TotalSeconds:0} s", cancellationToken).ConfigureAwait(false);
            return;
        }
        // The peer pushed its allow-list in PROPERTY_EXCHANGE: refuse early what it would refuse anyway.
        var early = PeerPolicy(tunnel).CheckName(host, port);
        if (!early.IsAllowed)
        {
            await RefuseAsync(client, stream, ErrorCode.NotAllowed, early.Reason, cancellationToken).ConfigureAwait(false);
            return;
        }
        var requested = Lstp.Tunnel.Telemetry.ChannelTrace.Requested();
        var open = new TunnelCommand.OpenChannel(client, TargetKind.Destination, host, (ushort)port, outcome =>
        {
            Lstp.Tunnel.Telemetry.ChannelTrace.Answered(requested, Lstp.EndProxy.Telemetry.EndMetrics.Destination, outcome);
            return new ValueTask(AnswerAsync(stream, outcome.Opened ? ErrorCode.None : outcome.Code, outcome.Reason, cancellationToken));
        });
        if (!tunnel.Tell(open))
        {
            await RefuseAsync(client, stream, ErrorCode.PeerGone, "the tunnel is closing", cancellationToken).ConfigureAwait(false);
        }
    }

    private AllowList PeerPolicy(TunnelHandle tunnel)
    {
        var cached = _peerPolicy;
        if (cached is { } c && ReferenceEquals(c.Tunnel, tunnel)) return c.Policy;
        AllowList policy;
        try
        {
            policy = AllowList.Parse(tunnel.Session.PeerProperties.Allow);
        }
        catch (FormatException)
        {
            // A peer of another version may write patterns we do not parse: let it decide for itself.
            policy = AllowList.Parse(["*:*", "0.0.0.0/0:*", "::/0:*"]);
        }
        _peerPolicy = (tunnel, policy);
        return policy;
    }

    private async Task RefuseAsync(Socket client, Stream stream, ErrorCode code, string reason, CancellationToken cancellationToken)
    {
        Log.Refused(log, Kind, code, reason);
        try { await AnswerAsync(stream, code, reason, cancellationToken).ConfigureAwait(false); }
        catch (IOException) { }
        client.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "{Kind}: bad request from a local client: {Reason}")]
        public static partial void BadRequest(ILogger logger, string kind, string reason);

        [LoggerMessage(EventId = 521, Level = LogLevel.Information, Message = "{Kind}: refused {Code}: {Reason}")]
        public static partial void Refused(ILogger logger, string kind, ErrorCode code, string reason);

        [LoggerMessage(EventId = 522, Level = LogLevel.Warning, Message = "{Kind}: {Max} local clients are already sending their requests; closed a new one")]
        public static partial void TooManyHandshakes(ILogger logger, string kind, int max);
    }
}

/// <summary>The local SOCKS5 server: each CONNECT becomes a channel to the destination inside the peer's network.</summary>
public sealed class SocksEntryPoint(TunnelSupervisor supervisor, EntryPointCredentials? credentials, TimeSpan waitForTunnel, ILogger log)
    : ProxyEntryPoint(supervisor, waitForTunnel, log)
{
    protected override string Kind => "socks";

    protected override async Task<(string Host, int Port)> ReadRequestAsync(Stream client, CancellationToken cancellationToken)
    {
        var request = await Socks5Handshake.ReadRequestAsync(client, credentials, cancellationToken).ConfigureAwait(false);
        return (request.Host, request.Port);
    }

    protected override Task AnswerAsync(Stream client, ErrorCode code, string reason, CancellationToken cancellationToken) =>
        Socks5Handshake.WriteReplyAsync(client, RefusalMapping.ToSocks5Reply(code), new IPEndPoint(IPAddress.Any, 0), cancellationToken);
}

/// <summary>The local HTTP CONNECT proxy: each CONNECT becomes a channel; refusals get 403, failures 502.</summary>
public sealed class HttpProxyEntryPoint(TunnelSupervisor supervisor, EntryPointCredentials? credentials, TimeSpan waitForTunnel, ILogger log)
    : ProxyEntryPoint(supervisor, waitForTunnel, log)
{
    protected override string Kind => "http-proxy";

    protected override async Task<(string Host, int Port)> ReadRequestAsync(Stream client, CancellationToken cancellationToken)
    {
        var request = await HttpConnectHandshake.ReadRequestAsync(client, credentials, cancellationToken).ConfigureAwait(false);
        return (request.Host, request.Port);
    }

    protected override Task AnswerAsync(Stream client, ErrorCode code, string reason, CancellationToken cancellationToken)
    {
        var status = RefusalMapping.ToHttpStatus(code);
        return HttpConnectHandshake.WriteResponseAsync(client, status.Status, status.Reason, cancellationToken);
    }
}

using System.Net.Sockets;
using Lstp.EndProxy.Connect;
using Lstp.Protocol.Messages;
using Lstp.Tunnel.Channels;
using Lstp.Tunnel.Session;
using Lstp.Tunnel.Telemetry;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Forwards;

/// <summary>A port forward: each local connection becomes a channel to one of the peer's named services.</summary>
/// <remarks><paramref name="helper"/>: the application helper (Helpers/) that relays each connection, when the service has one.</remarks>
public sealed partial class ForwardEntryPoint(ForwardSpec spec, TunnelSupervisor supervisor, TimeSpan waitForTunnel, ILogger log, Func<Socket, CancellationToken, Task>? helper = null)
{
    public ForwardSpec Spec => spec;

    public async Task OnClientAsync(Socket client, CancellationToken cancellationToken)
    {
        if (helper is not null)
        {
            // --helper SERVICE=PROTOCOL: the helper opens the control channel and the data channels itself.
            await helper(client, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (spec.Dedicated)
        {
            if (!await supervisor.OpenDedicatedAsync(client, spec.Service, cancellationToken).ConfigureAwait(false)) ChannelSockets.Reset(client);
            return;
        }
        var tunnel = await supervisor.WaitForTunnelAsync(waitForTunnel, cancellationToken).ConfigureAwait(false);
        var requested = ChannelTrace.Requested();
        if (tunnel is null || !tunnel.Tell(new TunnelCommand.OpenChannel(client, TargetKind.Service, spec.Service, 0, outcome =>
            {
                ChannelTrace.Answered(requested, spec.Service, outcome);
                return ValueTask.CompletedTask;
            })))
        {
            Log.NoTunnel(log, spec.Listen.ToString(), spec.Service, waitForTunnel.TotalSeconds);
            // A reset, not a FIN: an application must not read "no tunnel" as an empty answer that ended cleanly.
            ChannelSockets.Reset(client);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 510, Level = LogLevel.Warning, Message = "forward {Listen} -> {Service}: no tunnel open within {Seconds:0} s; resetting the local connection")]
        public static partial void NoTunnel(ILogger logger, string listen, string service, double seconds);
    }
}

using System.Net.Sockets;
using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// FTP through the tunnel, passive (PASV/EPSV) and active (PORT/EPRT) mode: <see cref="FtpControlRelay"/> at the
/// forward's end, <see cref="FtpReplyWatcher"/> at the service's end.
/// </summary>
public sealed partial class FtpHelper : IApplicationHelper
{
    private static long _relays;

    public string Protocol => "ftp";

    public async Task RelayAsync(Socket client, IHelperChannels channels, ILogger log, CancellationToken cancellationToken)
    {
        Socket? server;
        try
        {
            server = await channels.OpenControlAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        if (server is null)
        {
            Log.NoTunnel(log, channels.Service);
            Lstp.Tunnel.Channels.ChannelSockets.Reset(client);
            return;
        }
        (System.Net.IPAddress, System.Net.IPAddress) addresses;
        try
        {
            addresses = FtpControlRelay.Addresses(client);
        }
        catch
        {
            // The client left before the relay began (its addresses can no longer be read): close the control channel too.
            server.Dispose();
            client.Dispose();
            throw;
        }
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var relay = channels.Actors.ActorOf(Props.Create(typeof(FtpControlRelay), client, server, channels, log, addresses, stopped), $"ftp-relay-{Interlocked.Increment(ref _relays)}");
        using var _ = cancellationToken.Register(() => relay.Tell(PoisonPill.Instance));
        await stopped.Task.ConfigureAwait(false);
    }

    public IServiceWatcher Watch(DataGrantScope grants, ILogger log) => new FtpReplyWatcher(grants, log);

    private static partial class Log
    {
        [LoggerMessage(EventId = 568, Level = LogLevel.Warning, Message = "ftp helper '{Service}': no tunnel open; resetting the FTP client's control connection")]
        public static partial void NoTunnel(ILogger logger, string service);
    }
}

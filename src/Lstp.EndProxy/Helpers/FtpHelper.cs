using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// FTP through the tunnel, passive (PASV/EPSV) and active (PORT/EPRT) mode: <see cref="FtpControlRelay"/> at the
/// forward's end, <see cref="FtpReplyWatcher"/> at the service's end.
/// </summary>
public sealed partial class FtpHelper : IApplicationHelper
{
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
            client.Dispose();
            return;
        }
        FtpControlRelay relay;
        try
        {
            relay = new FtpControlRelay(client, server, channels, log);
        }
        catch
        {
            // The client left before the relay began (its addresses can no longer be read): close the control channel too.
            server.Dispose();
            client.Dispose();
            throw;
        }
        relay.Start();
        using var _ = cancellationToken.Register(() => relay.Stop(new Actors.StopReason("the forward closed")));
        await relay.Completion.ConfigureAwait(false);
    }

    public IServiceWatcher Watch(DataGrantScope grants, ILogger log) => new FtpReplyWatcher(grants, log);

    private static partial class Log
    {
        [LoggerMessage(EventId = 568, Level = LogLevel.Warning, Message = "ftp helper '{Service}': no tunnel open; closing the FTP client's control connection")]
        public static partial void NoTunnel(ILogger logger, string service);
    }
}

using Microsoft.Extensions.Logging;

namespace Lstp.EndProxy.Helpers;

/// <summary>
/// The FTP helper's service half: reads the server's replies on one control connection and grants one data
/// connection for each passive port the server announces (227 to PASV, 229 to EPSV). It arms only when the
/// server greets like FTP (120 or 220), so a peer that names a non-FTP service in its announcement gains
/// nothing from text that merely looks like a 227; it never grants a port below 1024.
/// </summary>
internal sealed partial class FtpReplyWatcher(DataGrantScope grants, ILogger log) : IServiceWatcher
{
    private readonly byte[] _partial = new byte[HelperLimits.MaxLine];
    private int _length;
    private bool _greeted;
    private bool _disarmed;
    private int? _openCode;

    public void Observe(ReadOnlySpan<byte> fromService)
    {
        while (!_disarmed && !fromService.IsEmpty)
        {
            var end = fromService.IndexOf((byte)'\n');
            var take = end < 0 ? fromService.Length : end + 1;
            if (_length + take > _partial.Length)
            {
                Disarm("a line longer than any FTP reply");
                return;
            }
            fromService[..take].CopyTo(_partial.AsSpan(_length));
            _length += take;
            fromService = fromService[take..];
            if (end < 0) return;
            OnLine(FtpLines.Text(_partial.AsSpan(0, _length)));
            _length = 0;
        }
    }

    private void OnLine(string line)
    {
        var reply = FtpLines.ParseReply(line, _openCode);
        _openCode = reply.First && !reply.Last ? reply.Code : reply.Last ? null : _openCode;
        if (!_greeted)
        {
            if (reply.Code is not (120 or 220))
            {
                Disarm($"the service's first reply is not an FTP greeting: '{line.TrimEnd()}'");
                return;
            }
            _greeted = reply.Code == 220 && reply.Last;
            return;
        }
        if (!reply.Last) return;
        int port;
        if (FtpAddresses.TryParsePassiveReply(line, out var endPoint)) port = endPoint.Port;
        else if (!FtpAddresses.TryParseExtendedPassiveReply(line, out port)) return;
        if (grants.Grant(port)) Log.Granted(log, grants.Service, grants.Host.ToString(), port);
        else Log.NotGranted(log, grants.Service, port);
    }

    private void Disarm(string why)
    {
        _disarmed = true;
        Log.Disarmed(log, grants.Service, why);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 570, Level = LogLevel.Debug, Message = "ftp helper: service '{Service}' announced a data port: granted one connection to {Host}:{Port}")]
        public static partial void Granted(ILogger logger, string service, string host, int port);

        [LoggerMessage(EventId = 571, Level = LogLevel.Warning, Message = "ftp helper: service '{Service}' announced data port {Port}, which is never granted (below 1024)")]
        public static partial void NotGranted(ILogger logger, string service, int port);

        [LoggerMessage(EventId = 572, Level = LogLevel.Warning, Message = "ftp helper: not watching service '{Service}': {Why}")]
        public static partial void Disarmed(ILogger logger, string service, string why);
    }
}

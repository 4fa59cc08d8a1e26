using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Lstp.Admin.Access;

/// <summary>
/// The admin endpoint without credentials trusts only loopback, and a browser on this host is a loopback client
/// too: a page from an attacker's site whose name rebinds to 127.0.0.1 (DNS rebinding) could read /api/status. Its
/// requests carry the attacker's name in Host, so such an endpoint answers only requests whose Host names
/// loopback (an address of 127.0.0.0/8 or ::1, or localhost); anything else gets 421 Misdirected Request.
/// </summary>
public static partial class LoopbackHostCheck
{
    /// <summary>Puts the check in front of every endpoint when <paramref name="access"/> has no credentials; otherwise a no-op.</summary>
    public static void Install(IApplicationBuilder app, AdminAccess access, ILogger log)
    {
        if (access.RequiresCredentials) return;
        app.Use(async (context, next) =>
        {
            if (NamesLoopback(context.Request.Host))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            Log.Refused(log, context.Request.Host.Value ?? "", context.Request.Path.Value ?? "/");
            context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            await context.Response.WriteAsync("421: this admin endpoint answers only requests addressed to localhost or a loopback address\n", context.RequestAborted).ConfigureAwait(false);
        });
    }

    /// <summary>Whether a Host header names this host's loopback: localhost (or a name under .localhost, RFC 6761 §6.3) or a loopback literal.</summary>
    public static bool NamesLoopback(HostString host)
    {
        if (!host.HasValue) return false;
        var name = host.Host.TrimEnd('.');
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)) return true;
        var literal = name.StartsWith('[') && name.EndsWith(']') ? name[1..^1] : name;
        return IPAddress.TryParse(literal, out var address) && Loopback.Is(address);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "admin: refused a request for {Path} addressed to '{Host}', which is not loopback (DNS rebinding?)")]
        public static partial void Refused(ILogger logger, string host, string path);
    }
}

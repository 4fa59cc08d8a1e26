using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Lstp.Admin.Access;

/// <summary>
/// The admin endpoint's door: every request but <c>/healthz</c> must carry the token (bearer header, or the
/// <c>token</c> query parameter that a browser page and EventSource can send) or the basic credentials.
/// </summary>
public sealed partial class CredentialCheck
{
    /// <summary>Health checkers (compose, Kubernetes probes) call it without credentials, and it says only "ok".</summary>
    public const string OpenPath = "/healthz";

    private readonly byte[]? _token;
    private readonly byte[]? _basic;
    private readonly string _challenge;

    public CredentialCheck(AdminAccess access)
    {
        // Kept as digests so comparing takes the same time whatever was presented (length included).
        _token = access.Token is { } token ? Digest(token) : null;
        _basic = access.User is { } user ? Digest($"{user}:{access.Password}") : null;
        _challenge = _basic is null ? "Bearer realm=\"lstp admin\"" : "Basic realm=\"lstp admin\", charset=\"UTF-8\"";
    }

    /// <summary>True when the request presents valid credentials.</summary>
    public bool Allows(HttpRequest request)
    {
        var ok = false;
        if (_token is not null && request.Query.TryGetValue("token", out var query)) ok |= Matches(_token, query);
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && _token is not null)
        {
            ok |= Matches(_token, header["Bearer ".Length..].Trim());
        }
        else if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) && _basic is not null)
        {
            ok |= Matches(_basic, DecodeBasic(header["Basic ".Length..].Trim()));
        }
        return ok;
    }

    /// <summary>Puts the check in front of every endpoint of <paramref name="app"/>; a no-op when no credentials are set.</summary>
    public static void Install(IApplicationBuilder app, AdminAccess access, ILogger log)
    {
        if (!access.RequiresCredentials) return;
        var check = new CredentialCheck(access);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.Equals(OpenPath, StringComparison.Ordinal) || check.Allows(context.Request))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            Log.Refused(log, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", context.Request.Path.Value ?? "/");
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = check._challenge;
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsync(
                "401: this admin endpoint needs credentials: Authorization: Bearer TOKEN (or ?token=TOKEN in a browser), or basic credentials\n",
                context.RequestAborted).ConfigureAwait(false);
        });
    }

    private static bool Matches(byte[] expected, StringValues presented)
    {
        var ok = false;
        foreach (var value in presented) ok |= value is not null && Matches(expected, value);
        return ok;
    }

    private static bool Matches(byte[] expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(expected, Digest(presented));

    private static string? DecodeBasic(string encoded)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static byte[] Digest(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));

    private static partial class Log
    {
        // The remote address and path only: what was presented is never logged, right or wrong.
        [LoggerMessage(EventId = 700, Level = LogLevel.Warning, Message = "admin request from {Remote} to {Path} refused: no valid credentials")]
        public static partial void Refused(ILogger logger, string remote, string path);
    }
}

namespace Lstp.EndProxy.EntryPoints;

/// <summary>A status code and reason phrase for an HTTP CONNECT response, with the ones the entry point sends.</summary>
public readonly record struct HttpStatusLine(int Status, string Reason)
{
    public static readonly HttpStatusLine ConnectionEstablished = new(200, "Connection Established");
    public static readonly HttpStatusLine BadRequest = new(400, "Bad Request");
    public static readonly HttpStatusLine Forbidden = new(403, "Forbidden");
    public static readonly HttpStatusLine MethodNotAllowed = new(405, "Method Not Allowed");
    public static readonly HttpStatusLine ProxyAuthenticationRequired = new(407, "Proxy Authentication Required");
    public static readonly HttpStatusLine HeadersTooLarge = new(431, "Request Header Fields Too Large");
    public static readonly HttpStatusLine BadGateway = new(502, "Bad Gateway");
    public static readonly HttpStatusLine ServiceUnavailable = new(503, "Service Unavailable");
    public static readonly HttpStatusLine GatewayTimeout = new(504, "Gateway Timeout");
    public static readonly HttpStatusLine VersionNotSupported = new(505, "HTTP Version Not Supported");
}

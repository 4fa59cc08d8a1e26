using System.Net;

namespace Lstp.Admin.Access;

/// <summary>
/// Who may use an admin endpoint. With no credentials, anyone who can reach it, which is why it must then be
/// bound to loopback; with a token (<c>Authorization: Bearer</c>, or <c>?token=</c> for the browser page) or
/// basic credentials, only whoever presents them. Never printed: <see cref="ToString"/> names no value.
/// </summary>
public sealed record AdminAccess
{
    /// <summary>No credentials: the endpoint may only listen on loopback.</summary>
    public static readonly AdminAccess LoopbackOnly = new();

    /// <summary>A bearer token the endpoint requires.</summary>
    public string? Token { get; init; }

    /// <summary>Basic credentials the endpoint accepts (RFC 7617); both or neither.</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    public bool RequiresCredentials => Token is not null || User is not null;

    /// <summary>Throws <see cref="ArgumentException"/> for credentials that could never be presented, or are empty.</summary>
    public void Validate()
    {
        if (Token is not null && string.IsNullOrWhiteSpace(Token)) throw new ArgumentException("the admin token is empty; refusing to run with it");
        if (User is null && Password is not null) throw new ArgumentException("an admin password needs an admin user");
        if (User is null) return;
        if (string.IsNullOrWhiteSpace(User) || User.Contains(':', StringComparison.Ordinal)) throw new ArgumentException("the admin user must be non-empty and contain no ':' (RFC 7617)");
        if (string.IsNullOrEmpty(Password)) throw new ArgumentException($"the admin user '{User}' needs a non-empty password");
    }

    /// <summary>
    /// Refuses to start an endpoint that anyone on the network could use: bound off loopback with no credentials.
    /// <paramref name="what"/> names the option, e.g. <c>--admin 0.0.0.0:7780</c>.
    /// </summary>
    public void EnsureAllowedOn(IPAddress address, string what)
    {
        Validate();
        if (RequiresCredentials || Loopback.Is(address)) return;
        throw new ArgumentException(
            $"{what} is not a loopback address, so other hosts could reach the admin endpoint; give it credentials " +
            "(--admin-token or --admin-token-file, or --admin-user with --admin-password-file) or bind it to 127.0.0.1; refusing to start");
    }

    public override string ToString() =>
        $"AdminAccess {{ {(Token is null ? "no token" : "token set")}, {(User is null ? "no basic credentials" : $"basic user {User}")} }}";
}

/// <summary>What counts as loopback for the admin endpoint.</summary>
public static class Loopback
{
    /// <summary>
    /// All of 127.0.0.0/8 and ::1 (IPv4-mapped forms included): a host never sends these off itself
    /// (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3), so only local processes reach a listener there. The unspecified
    /// address (0.0.0.0, ::) means every interface and is not loopback.
    /// </summary>
    public static bool Is(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return IPAddress.IsLoopback(address);
    }
}

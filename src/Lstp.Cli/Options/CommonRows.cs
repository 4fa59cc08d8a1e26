using System.Net;
using Lstp.Admin.Access;
using Lstp.Cli.Configuration;
using Lstp.Transport;

namespace Lstp.Cli.Options;

/// <summary>Options `lstp middle` and `lstp end` share: the config file, the log, the admin endpoint's credentials.</summary>
public static class CommonRows
{
    public const string ConfigHelp = "HOCON config file: the same options as the flags, keyed by flag name, and an akka section for the actor system (see hocon/reference.conf; flags win)";

    public const string LogFormatHelp = "text (default) or json";

    public const string LogLevelHelp = "trace, debug, info (default), warning, error";

    /// <summary>--config: read before every other option (<see cref="Settings"/>), since it names the file they come from.</summary>
    public static OptionSpec<T> Config<T>() => OptionRows<T>.FlagOnly("--config", ConfigHelp, Parse.ExistingFile, (target, _) => target);

    public static OptionSpec<T> LogFormat<T>(Func<T, string, T> land) => OptionRows<T>.FlagOnly("--log-format", LogFormatHelp, CliLogging.Format, land);

    public static OptionSpec<T> LogLevel<T>(Func<T, string, T> land) => OptionRows<T>.FlagOnly("--log-level", LogLevelHelp, Parse.Checked(CliLogging.Level), land);

    /// <summary>
    /// The admin endpoint's credentials (AdminToken, AdminUser, ... in the file; LSTP__MIDDLE__ADMINTOKEN and so on),
    /// landing in the role's <see cref="AdminAccess"/> through <paramref name="access"/>.
    /// </summary>
    public static IEnumerable<OptionSpec<T>> AdminCredentials<T>(Func<T, Func<AdminAccess, AdminAccess>, T> access) =>
    [
        OptionRows<T>.Value("--admin-token", "token the admin endpoint requires (Authorization: Bearer, or ?token= in a browser); needed when --admin is not loopback",
            Parse.Secret("admin token"), (t, v) => access(t, a => a with { Token = v })),
        OptionRows<T>.Value("--admin-token-file", "file holding the admin token",
            Parse.SecretFile("admin token"), (t, v) => access(t, a => a with { Token = v })),
        OptionRows<T>.Value("--admin-user", "user for basic credentials on the admin endpoint (with --admin-password-file)",
            Parse.BasicUser, (t, v) => access(t, a => a with { User = v })),
        OptionRows<T>.Value("--admin-password", "password for --admin-user (prefer --admin-password-file: flags show in ps)",
            Parse.Secret("admin password"), (t, v) => access(t, a => a with { Password = v })),
        OptionRows<T>.Value("--admin-password-file", "file holding the password for --admin-user",
            Parse.SecretFile("admin password"), (t, v) => access(t, a => a with { Password = v })),
    ];

    /// <summary>The rules of the admin endpoint: each credential once and complete, and none missing off loopback.</summary>
    public static IEnumerable<OptionRule<T>> AdminRules<T>(Func<T, HostPort?> admin) =>
    [
        OptionRules<T>.Once("--admin-token", "--admin-token-file"),
        OptionRules<T>.Once("--admin-password", "--admin-password-file"),
        OptionRules<T>.Needs("--admin-user", ["--admin-password", "--admin-password-file"]),
        OptionRules<T>.Needs("--admin-password", ["--admin-user"]),
        OptionRules<T>.Needs("--admin-password-file", ["--admin-user"]),
        (target, c) =>
        {
            // A name is resolved only when the command starts (AdminAccess.EnsureAllowedOn); a literal is judged here.
            if (admin(target) is not { } address || !IPAddress.TryParse(address.Host, out var ip) || Loopback.Is(ip)) return;
            if (new[] { "--admin-token", "--admin-token-file", "--admin-user" }.Any(c.Supplied)) return;
            c.Conflict("--admin", $"{address} is not a loopback address: other hosts could reach the admin endpoint, so it needs {c.Name("--admin-token")} " +
                $"(or {c.Name("--admin-token-file")}, or {c.Name("--admin-user")} and {c.Name("--admin-password")})");
        },
    ];
}

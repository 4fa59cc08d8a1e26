using System.Globalization;
using Lstp.Cli.Configuration;
using Lstp.Transport;
using Lstp.Transport.Dialing;

namespace Lstp.Cli.Options;

/// <summary>
/// The option tables' parsers: each takes an option's text and returns its value, or throws a
/// <see cref="FormatException"/> saying what is wrong without naming the flag (<c>'+5' is not a positive whole
/// number</c>): the command puts its flag in front, `lstp check` its key. A message never repeats a secret.
/// </summary>
public static class Parse
{
    /// <summary>A flag read outside a table (`lstp demo`, the log options) with a table's parser; a <see cref="UsageException"/> names it.</summary>
    public static T Flag<T>(string flag, string text, Func<string, T> parse)
    {
        try
        {
            return parse(text);
        }
        catch (FormatException ex)
        {
            throw new UsageException(OptionProblem.Of(ex).For(flag));
        }
    }

    public const string CountProblem = "is not a positive whole number";

    public const string SecondsProblem = "is not a positive number of seconds";

    /// <summary>Digits only (no sign, no spaces, no thousands separator), and more than zero.</summary>
    public static int Count(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0
            ? count
            : throw new FormatException($"'{text}' {CountProblem}");

    /// <summary>A positive decimal number of seconds (no sign, no exponent).</summary>
    public static TimeSpan Seconds(string text) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw new FormatException($"'{text}' {SecondsProblem}");

    public const string SecondsOrZeroProblem = "is not a number of seconds (0 or more)";

    /// <summary>A decimal number of seconds, zero allowed (for a grace that 0 turns off); no sign, no exponent.</summary>
    public static TimeSpan SecondsOrZero(string text) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0 && seconds <= TimeSpan.MaxValue.TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw new FormatException($"'{text}' {SecondsOrZeroProblem}");

    /// <summary>An OTLP/HTTP collector's address: an absolute http:// or https:// URL.</summary>
    public static Uri Collector(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new FormatException($"'{text}' is not an http:// or https:// URL (an OTLP/HTTP collector, e.g. http://collector:4318)");

    public static bool Switch(string text) => bool.TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not true or false");

    public static string Name(string text) => string.IsNullOrWhiteSpace(text) ? throw new FormatException("must not be empty") : text;

    /// <summary>HOST:PORT or [IPv6]:PORT; port 0 lets the system choose (a listener).</summary>
    public static HostPort Address(string text) => HostPort.TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    /// <summary>An address to dial, where port 0 is no port.</summary>
    public static HostPort DialAddress(string text) =>
        Address(text) is { Port: not 0 } address ? address : throw new FormatException($"'{text}': port 0 cannot be dialled");

    /// <summary>An endpoint that may be switched off with <c>off</c> or <c>none</c>.</summary>
    public static HostPort? AddressOrOff(string text) => text is "off" or "none" ? null : Address(text);

    /// <summary>A local listener, [HOST:]PORT: the host defaults to loopback, so nothing is exposed by accident.</summary>
    public static HostPort Listener(string text) =>
        HostPort.TryParse(text, out var address, out var error, defaultHost: "127.0.0.1") ? address : throw new FormatException(error);

    /// <summary>Checks <paramref name="text"/> with <paramref name="parse"/> and keeps the text (options held as text, such as --public).</summary>
    public static Func<string, string> Checked<T>(Func<string, T> parse) => text =>
    {
        parse(text);
        return text;
    };

    /// <summary>A secret given inline: never empty; the text is never quoted back.</summary>
    public static Func<string, string> Secret(string what) => text =>
        string.IsNullOrWhiteSpace(text) ? throw new FormatException($"the {what} is empty") : text;

    /// <summary>A secret held in a file: the file's text, trimmed.</summary>
    public static Func<string, string> SecretFile(string what) => path => Text(TextFile(what)(path));

    /// <summary>A file that must exist and hold text (a PEM file, a secret); its path.</summary>
    public static Func<string, string> TextFile(string what) => path =>
        Text(path).Length > 0 ? path : throw new FormatException($"'{path}' is empty; it must hold the {what}");

    public static string ExistingFile(string path) => File.Exists(path) ? path : throw new FormatException($"'{path}' does not exist");

    /// <summary>Admission tokens, one per line; a file without one would open the middle to anyone by mistake.</summary>
    public static IReadOnlyList<string> TokenFile(string path)
    {
        var tokens = Text(path).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        return tokens.Count > 0 ? tokens : throw new FormatException($"'{path}' holds no token; refusing to run an open middle by mistake");
    }

    public static string AdmissionToken(string text) =>
        string.IsNullOrWhiteSpace(text) ? throw new FormatException("an empty admission token is not allowed") : text;

    /// <summary>USER:PASS, both non-empty.</summary>
    public static string UserPass(string text) =>
        text.IndexOf(':', StringComparison.Ordinal) > 0 && !text.EndsWith(':') ? text : throw new FormatException("expected USER:PASS");

    /// <summary>USER:PASS held in a file.</summary>
    public static string UserPassFile(string path) =>
        Text(TextFile("USER:PASS for local proxy clients")(path)) is var text && text.IndexOf(':', StringComparison.Ordinal) > 0 && !text.EndsWith(':')
            ? text
            : throw new FormatException($"'{path}' does not hold USER:PASS");

    /// <summary>A user for basic credentials (RFC 7617: no ':').</summary>
    public static string BasicUser(string text) =>
        string.IsNullOrWhiteSpace(text) || text.Contains(':', StringComparison.Ordinal) ? throw new FormatException("must be non-empty and contain no ':'") : text;

    /// <summary>A corporate proxy, socks5:// or http://; its message masks any password.</summary>
    public static string Via(string text) => ViaParser.TryParse(text, out _, out var error) ? text : throw new FormatException(error);

    /// <summary>An admin endpoint's URL, HOST:PORT or http(s)://[USER:PASS@]HOST:PORT; never quoted back (it may hold a password).</summary>
    public static Uri AdminUrl(string text)
    {
        var url = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new FormatException("expected a URL such as http://127.0.0.1:7780");
    }

    /// <summary>A file's text, trimmed; a file that is missing or cannot be read is a problem with the option, not a crash.</summary>
    private static string Text(string path)
    {
        try
        {
            return File.ReadAllText(ExistingFile(path)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"'{path}' cannot be read: {ex.Message}");
        }
    }
}

using System.CommandLine;
using Lstp.Cli.Configuration;
using Lstp.Transport;

namespace Lstp.Cli.Commands;

/// <summary>Options every long-running command shares, and small parsing helpers.</summary>
public static class CommonOptions
{
    public static Option<string> Config() => new("--config") { Description = "HOCON config file: the same options as the flags, keyed by flag name, and an akka section for the actor system (see hocon/reference.conf; flags win)" };
    public static Option<string> LogFormat() => new("--log-format") { Description = "text (default) or json" };
    public static Option<string> LogLevel() => new("--log-level") { Description = "trace, debug, info (default), warning, error" };

    public static HostPort Address(string? text, string flag, HostPort fallback)
    {
        if (text is null) return fallback;
        return HostPort.TryParse(text, out var value, out var error) ? value : throw new UsageException($"{flag}: {error}");
    }

    public static HostPort Listen(string text, string flag) =>
        HostPort.TryParse(text, out var value, out var error, defaultHost: "127.0.0.1") ? value : throw new UsageException($"{flag}: {error}");

    /// <summary>Runs a command body, turning configuration mistakes into one line and exit code 2.</summary>
    public static async Task<int> Run(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception ex) when (ex is UsageException or FormatException or ArgumentException)
        {
            Console.Error.WriteLine($"lstp: {ex.Message}");
            return 2;
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("cannot listen", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"lstp: {ex.Message}");
            return 1;
        }
    }
}

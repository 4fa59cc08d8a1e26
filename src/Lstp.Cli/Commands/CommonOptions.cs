using System.CommandLine;
using Lstp.Cli.Configuration;
using Lstp.Cli.Options;

namespace Lstp.Cli.Commands;

/// <summary>What every command shares: running its body with configuration mistakes as one line and exit code 2.</summary>
public static class CommonOptions
{
    /// <summary>--log-level for a command without an option table (`lstp demo`).</summary>
    public static Option<string> LogLevel() => new("--log-level") { Description = CommonRows.LogLevelHelp };

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

using Lstp.Cli.Options;
using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Configuration;

/// <summary>Console logging for the commands: one line per event, or JSON for machines.</summary>
public static class CliLogging
{
    /// <summary>Checks --log-format: text or json.</summary>
    public static string Format(string text) =>
        text.ToLowerInvariant() is "" or "text" or "json" ? text : throw new FormatException($"'{text}': expected text or json");

    /// <summary>Checks --log-level and gives the level it means.</summary>
    public static LogLevel Level(string text) => text.ToLowerInvariant() switch
    {
        "" or "info" or "information" => LogLevel.Information,
        "debug" => LogLevel.Debug,
        "trace" => LogLevel.Trace,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new FormatException($"'{text}': expected trace, debug, info, warning or error"),
    };

    public static ILoggerFactory Create(string? format, string? level)
    {
        var minimum = Parse.Flag("--log-level", level ?? "", Level);
        var json = Parse.Flag("--log-format", format ?? "", Format).Equals("json", StringComparison.OrdinalIgnoreCase);
        return LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(minimum);
            builder.AddFilter("Microsoft", LogLevel.Warning);
            if (json)
            {
                builder.AddJsonConsole(o => o.TimestampFormat = "O");
                return;
            }
            builder.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.IncludeScopes = false;
            });
        });
    }
}

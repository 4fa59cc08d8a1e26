using Microsoft.Extensions.Logging;

namespace Lstp.Cli.Configuration;

/// <summary>Console logging for the commands: one line per event, or JSON for machines.</summary>
public static class CliLogging
{
    public static ILoggerFactory Create(string? format, string? level)
    {
        var minimum = level?.ToLowerInvariant() switch
        {
            null or "" or "info" or "information" => LogLevel.Information,
            "debug" => LogLevel.Debug,
            "trace" => LogLevel.Trace,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => throw new UsageException($"--log-level '{level}': expected trace, debug, info, warning or error"),
        };
        return LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(minimum);
            builder.AddFilter("Microsoft", LogLevel.Warning);
            switch (format?.ToLowerInvariant())
            {
                case null or "" or "text":
                    builder.AddSimpleConsole(o =>
                    {
                        o.SingleLine = true;
                        o.TimestampFormat = "HH:mm:ss ";
                        o.IncludeScopes = false;
                    });
                    break;
                case "json":
                    builder.AddJsonConsole(o => o.TimestampFormat = "O");
                    break;
                default:
                    throw new UsageException($"--log-format '{format}': expected text or json");
            }
        });
    }
}

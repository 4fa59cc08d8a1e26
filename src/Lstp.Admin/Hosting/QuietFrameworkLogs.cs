using Microsoft.Extensions.Logging;

namespace Lstp.Admin.Hosting;

/// <summary>
/// The logger factory the admin host hands to ASP.NET Core: the product's own categories pass unchanged, and
/// the framework's are kept to warnings and errors. Its informational lines are noise on a relay, and one of
/// them ("Request starting ... GET /?token=...") would write the admin token into the log.
/// </summary>
public sealed class QuietFrameworkLogs(ILoggerFactory inner) : ILoggerFactory
{
    private const string Framework = "Microsoft.";

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith(Framework, StringComparison.Ordinal) ? new AtLeast(logger, LogLevel.Warning) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The caller owns <c>inner</c> and disposes it; this wrapper holds nothing.</summary>
    public void Dispose()
    {
    }

    private sealed class AtLeast(ILogger inner, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}

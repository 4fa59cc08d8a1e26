using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lstp.Testing;

/// <summary>
/// A logger factory for tests: writes to the test's output and keeps every line, so a test can assert on
/// what was logged (event ids, and that no secret ever appears).
/// </summary>
public sealed class TestLog(ITestOutputHelper? output = null, LogLevel minimum = LogLevel.Debug) : ILoggerFactory, ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<(string Category, EventId Id, string Message)> _events = new();

    public IReadOnlyCollection<string> Lines => _lines;
    public IReadOnlyCollection<(string Category, EventId Id, string Message)> Events => _events;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private void Write(string category, LogLevel level, EventId id, string message, Exception? exception)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {level,-11} [{category}:{id.Id}] {message}{(exception is null ? "" : " :: " + exception.Message)}";
        _lines.Enqueue(line);
        _events.Enqueue((category, id, message));
        try { output?.WriteLine(line); } catch (InvalidOperationException) { }
    }

    private sealed class Logger(TestLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner.Write(category, logLevel, eventId, formatter(state, exception), exception);
        }
    }

    public LogLevel Minimum => minimum;
}

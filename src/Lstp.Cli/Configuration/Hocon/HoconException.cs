namespace Lstp.Cli.Configuration.Hocon;

/// <summary>A HOCON file that cannot be read, with the line and column (1-based) where reading stopped.</summary>
public sealed class HoconException(int line, int column, string message) : FormatException($"line {line}, column {column}: {message}")
{
    public int Line { get; } = line;
    public int Column { get; } = column;
    public string Problem { get; } = message;
}

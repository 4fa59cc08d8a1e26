namespace Lstp.Cli.Configuration;

/// <summary>A configuration mistake: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

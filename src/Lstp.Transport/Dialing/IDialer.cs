namespace Lstp.Transport.Dialing;

/// <summary>Opens a byte stream to a host and port: directly, or through a corporate proxy.</summary>
public interface IDialer
{
    /// <summary>
    /// Connects to <paramref name="target"/>. Failures throw <see cref="DialException"/> with a reason a
    /// person can act on (which hop refused, and why).
    /// </summary>
    ValueTask<Stream> DialAsync(HostPort target, CancellationToken cancellationToken);
}

/// <summary>Why a dial failed, sorted so callers can decide how long to back off.</summary>
public enum DialFailure
{
    /// <summary>The target (or the proxy) refused or was unreachable.</summary>
    Unreachable,
    /// <summary>The proxy rejected our credentials: retrying soon will not help.</summary>
    ProxyAuthentication,
    /// <summary>The proxy refused to connect to the target (policy, or the target failed behind it).</summary>
    ProxyRefused,
    /// <summary>The proxy spoke something we did not expect, or closed early.</summary>
    ProxyProtocol,
    /// <summary>The dial took longer than allowed.</summary>
    Timeout,
}

/// <summary>A dial that failed, with a readable reason.</summary>
public sealed class DialException(DialFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public DialFailure Failure { get; } = failure;
}

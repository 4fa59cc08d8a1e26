namespace Lstp.Transport.Dialing;

/// <summary>The deadline every dialer puts on one dial: the TCP connect and any proxy handshake together.</summary>
public static class DialTimeout
{
    /// <summary>
    /// Ten seconds: a TCP connect plus a proxy handshake is a few round trips, well under a second even on a slow
    /// corporate link, yet short enough that an end moves on to its next middle seed before a person gives up.
    /// </summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    internal static TimeSpan Validate(TimeSpan? timeout)
    {
        var value = timeout ?? Default;
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), value, "the connect timeout must be positive (or infinite)");
        return value;
    }

    /// <summary>
    /// Runs <paramref name="dial"/> under the deadline. The caller's own cancellation stays an
    /// <see cref="OperationCanceledException"/>; only the deadline becomes <see cref="DialFailure.Timeout"/>.
    /// </summary>
    internal static async ValueTask<Stream> RunAsync(
        string what, TimeSpan timeout, TimeProvider time, Func<CancellationToken, ValueTask<Stream>> dial, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await dial(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DialException(DialFailure.Timeout, $"{what} did not complete within {timeout.TotalSeconds:0.###} s", ex);
        }
    }
}

namespace Lstp.Admin;

/// <summary>The admin endpoint's fixed sizes and periods, each with the reason for its value.</summary>
public static class AdminLimits
{
    /// <summary>The dashboard shows figures per second; a faster tick would only cost CPU on a busy relay.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>Enough to see a burst of failures and its cause; fixed, so an error flood costs fixed memory.</summary>
    public const int RecentErrors = 50;

    /// <summary>
    /// Open /api/events streams at once. An operator has a handful of tabs; the cap keeps a runaway script (or
    /// anyone holding the token) from pinning connections.
    /// </summary>
    public const int EventStreams = 64;

    /// <summary>How long a browser waits before reconnecting a dropped event stream (the SSE retry field).</summary>
    public const int EventRetryMilliseconds = 2000;
}

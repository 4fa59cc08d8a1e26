using System.Diagnostics;
using Lstp.Transport.Telemetry;
using Lstp.Tunnel.Channels;

namespace Lstp.Tunnel.Telemetry;

/// <summary>
/// The span of one channel's opening (<see cref="TelemetryNames.ChannelOpen"/>): from the entry point's request to the
/// peer's answer. The answer arrives on the channel actor's thread, so the span is made whole when it arrives, from the
/// time the request left, and is never anybody's <see cref="Activity.Current"/>.
/// </summary>
public static class ChannelTrace
{
    /// <summary>When an entry point asks for a channel: pass the result to <see cref="Answered"/>.</summary>
    public static DateTime Requested() => DateTime.UtcNow;

    /// <summary>The peer answered the channel to <paramref name="target"/> requested at <paramref name="requested"/>.</summary>
    public static void Answered(DateTime requested, string target, ChannelOutcome outcome)
    {
        var previous = Activity.Current;
        Activity.Current = null; // a channel's span starts a trace of its own, whatever ran on this thread before
        try
        {
            using var span = TelemetryNames.Spans.StartActivity(TelemetryNames.ChannelOpen, ActivityKind.Client, default(ActivityContext), startTime: requested);
            if (span is null) return;
            span.SetTag("lstp.target", target);
            span.SetTag("lstp.outcome", outcome.Opened ? "opened" : outcome.Code.ToString());
            if (!outcome.Opened) span.SetStatus(ActivityStatusCode.Error, outcome.Reason);
        }
        finally
        {
            Activity.Current = previous;
        }
    }
}

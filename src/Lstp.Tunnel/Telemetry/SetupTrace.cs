using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lstp.Transport.Telemetry;

namespace Lstp.Tunnel.Telemetry;

/// <summary>
/// The spans of one tunnel setup (docs/observability.md): a root <see cref="TelemetryNames.Setup"/> that the end's
/// attempt holds as <see cref="Activity.Current"/>, and one child per step (dial, proxy hop, register, pair, TLS,
/// authentication) started where the step happens. Steps never replace <see cref="Activity.Current"/>, so each is the
/// root's child however deep in the dialers it starts. Spans are always recorded, exported or not: the end keeps the
/// step durations of its last setup for /api/end and its setup histogram, and OTLP (--otlp) exports the spans.
/// </summary>
public static class SetupTrace
{
    private const string RecorderKey = "lstp.setup.recorder";
    private static readonly ConditionalWeakTable<object, ISetupObserver> Observers = new();

    /// <summary>Records every span of ours, so setups are timed with or without an exporter listening.</summary>
    private static readonly ActivityListener Listener = Listen();

    /// <summary>Setups that <paramref name="end"/> starts (<see cref="Begin"/>) report their timings to <paramref name="observer"/>.</summary>
    public static void Observe(object end, ISetupObserver observer) => Observers.AddOrUpdate(end, observer);

    /// <summary>Starts the root span of one setup attempt of <paramref name="end"/> and makes it current; disposing it ends the setup.</summary>
    public static Activity? Begin(object end, string middle, uint slot)
    {
        GC.KeepAlive(Listener);
        var root = TelemetryNames.Spans.StartActivity(TelemetryNames.Setup, ActivityKind.Client);
        if (root is null) return null;
        root.SetTag("lstp.middle", middle);
        if (slot != 0) root.SetTag("lstp.slot", slot);
        if (Observers.TryGetValue(end, out var observer)) root.SetCustomProperty(RecorderKey, new SetupRecorder(observer, root.StartTimeUtc));
        return root;
    }

    /// <summary>
    /// Starts one step of the current setup (null outside one). End it with <see cref="Step.Done"/> when it succeeded;
    /// one never done is a setup that failed there (its span is not exported).
    /// </summary>
    public static Step? Start(string name)
    {
        if (Activity.Current is not { OperationName: TelemetryNames.Setup } root) return null;
        var span = TelemetryNames.Spans.StartActivity(name);
        Activity.Current = root; // the next step is the root's child too, not this one's
        return span is null ? null : new Step(span, root);
    }

    /// <summary>One step of a setup: its span, and the root it reports to.</summary>
    public sealed class Step(Activity span, Activity root)
    {
        /// <summary>The step succeeded: its span ends now.</summary>
        public void Done()
        {
            span.Stop();
            Activity.Current = root;
        }
    }

    private static ActivityListener Listen()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TelemetryNames.Source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Stopped,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static void Stopped(Activity activity)
    {
        if (activity.GetCustomProperty(RecorderKey) is SetupRecorder setup)
        {
            setup.Finish(activity.Duration);
        }
        else if (activity.Parent?.GetCustomProperty(RecorderKey) is SetupRecorder parent)
        {
            parent.Add(activity.OperationName, activity.Duration);
        }
    }

    /// <summary>Collects one setup's step durations, in the order they ended.</summary>
    private sealed class SetupRecorder(ISetupObserver observer, DateTime started)
    {
        private readonly List<SetupStep> _steps = [];
        private readonly Lock _lock = new();

        public void Add(string name, TimeSpan duration)
        {
            lock (_lock) _steps.Add(new SetupStep(name, duration));
        }

        public void Finish(TimeSpan total)
        {
            SetupStep[] steps;
            lock (_lock) steps = [.. _steps];
            observer.SetupEnded(new SetupTimings(new DateTimeOffset(started, TimeSpan.Zero), total, steps.Any(s => s.Name == TelemetryNames.Authenticate), steps));
        }
    }
}

/// <summary>Hears how each setup of one end went (the end's metrics).</summary>
public interface ISetupObserver
{
    void SetupEnded(SetupTimings timings);
}

/// <summary>
/// One setup attempt: when it started, how long it took in all, whether it reached an open tunnel (its authentication
/// step completed), and each step that completed with its duration.
/// </summary>
public sealed record SetupTimings(DateTimeOffset Started, TimeSpan Total, bool Completed, IReadOnlyList<SetupStep> Steps);

/// <summary>A completed step of a setup (<c>lstp.dial</c>, <c>lstp.proxy_hop</c>, ...) and its duration.</summary>
public sealed record SetupStep(string Name, TimeSpan Duration);

using Akka.Actor;
using Lstp.Protocol;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Pairing;

/// <summary>
/// The pairing registry as an actor: it alone owns the table of waiting ends, so store, match, replace and
/// expire happen one at a time without locks. The embedded default of a single middle; its handle is
/// <see cref="InMemoryPairingRegistry"/>.
/// </summary>
internal sealed partial class PairingRegistryActor : ReceiveActor, IWithTimers
{
    private readonly Dictionary<string, List<WaitingEnd>> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _perSource = new(StringComparer.Ordinal);
    private readonly MiddleOptions _options;
    private readonly ILogger _log;
    private readonly Action<WaitingEnd[]> _publish;

    public PairingRegistryActor(MiddleOptions options, ILogger log, Action<WaitingEnd[]> publish)
    {
        _options = options;
        _log = log;
        _publish = publish;
        Receive<Register>(register => Sender.Tell(Store(register.End)));
        Receive<Unregister>(unregister => Remove(unregister.End));
        Receive<Expire>(_ => ExpireOld());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Store this end, or match it with its waiting peer; the reply is a <see cref="RegisterResult"/>.</summary>
    public sealed record Register(WaitingEnd End);

    /// <summary>The end left while waiting.</summary>
    public sealed record Unregister(WaitingEnd End);

    private sealed record Expire
    {
        public static readonly Expire Instance = new();
    }

    protected override void PreStart()
    {
        // A tenth of the expiry, between 100 ms and 10 s: expiry is late by at most that much.
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, Math.Min(_options.WaitExpiry.Ticks / 10, TimeSpan.FromSeconds(10).Ticks)));
        Timers.StartPeriodicTimer("expire", Expire.Instance, period);
    }

    /// <summary>After every message the dashboard's snapshot is published again.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        _publish([.. _waiting.Values.SelectMany(v => v)]);
        return handled;
    }

    private RegisterResult Store(WaitingEnd end)
    {
        if (_waiting.TryGetValue(end.CommonKey, out var entries))
        {
            var same = entries.FirstOrDefault(e => e.UniqueName == end.UniqueName);
            if (same is not null)
            {
                // The same end registering again (it reconnected): the newer connection wins.
                Remove(same);
                same.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.Replaced, "a newer connection of this end registered; this one is dropped"));
                Log.Replaced(_log, end.Link.EndName);
            }
            else if (entries.Count > 0)
            {
                var peer = entries[0];
                Remove(peer);
                return new RegisterResult.Matched(peer);
            }
        }
        var source = end.Link.BudgetSource;
        var count = _perSource.GetValueOrDefault(source);
        if (count >= _options.MaxWaitingPerSource)
        {
            return new RegisterResult.Refused(ErrorCode.TooManyWaiting, $"{source} already has {count} ends waiting (limit {_options.MaxWaitingPerSource})");
        }
        _perSource[source] = count + 1;
        if (!_waiting.TryGetValue(end.CommonKey, out entries)) _waiting[end.CommonKey] = entries = [];
        entries.Add(end);
        return new RegisterResult.Stored(end);
    }

    private void Remove(WaitingEnd end)
    {
        if (!_waiting.TryGetValue(end.CommonKey, out var entries) || !entries.Remove(end)) return;
        if (entries.Count == 0) _waiting.Remove(end.CommonKey);
        var source = end.Link.BudgetSource;
        if (_perSource.TryGetValue(source, out var count))
        {
            if (count <= 1) _perSource.Remove(source);
            else _perSource[source] = count - 1;
        }
    }

    private void ExpireOld()
    {
        var now = _options.Time.GetUtcNow();
        foreach (var end in _waiting.Values.SelectMany(v => v).Where(e => now - e.Since >= _options.WaitExpiry).ToList())
        {
            Remove(end);
            end.Outcome.TrySetResult(new WaitOutcome(null, ErrorCode.WaitExpired, $"no peer arrived within {_options.WaitExpiry.TotalMinutes:0.#} min"));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "end {End} registered again; the older waiting connection is dropped")]
        public static partial void Replaced(ILogger logger, string end);
    }
}

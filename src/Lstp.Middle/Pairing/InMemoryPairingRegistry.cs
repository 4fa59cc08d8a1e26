using Lstp.Actors;
using Lstp.Protocol;
using Microsoft.Extensions.Logging;

namespace Lstp.Middle.Pairing;

/// <summary>
/// The pairing registry as an actor: it alone owns the table of waiting ends, so store, match, replace and
/// expire happen one at a time without locks. The embedded default of a single middle.
/// </summary>
public sealed partial class InMemoryPairingRegistry : Actor<InMemoryPairingRegistry.Command>, IPairingRegistry
{
    private readonly Dictionary<string, List<WaitingEnd>> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _perSource = new(StringComparer.Ordinal);
    private readonly MiddleOptions _options;
    private readonly ILogger _log;
    private volatile WaitingEnd[] _snapshot = [];

    public InMemoryPairingRegistry(MiddleOptions options, ILogger log) : base("pairing registry", mailboxCapacity: 4096)
    {
        _options = options;
        _log = log;
        Start();
        _ = ExpireLoopAsync();
    }

    /// <summary>Messages the registry accepts.</summary>
    public abstract record Command
    {
        public sealed record Register(WaitingEnd End, TaskCompletionSource<RegisterResult> Reply) : Command;
        public sealed record Unregister(WaitingEnd End) : Command;
        public sealed record Expire : Command;
    }

    public async Task<RegisterResult> RegisterAsync(WaitingEnd end, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<RegisterResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        await TellAsync(new Command.Register(end, reply), cancellationToken).ConfigureAwait(false);
        return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Unregister(WaitingEnd end) => Tell(new Command.Unregister(end));

    public IReadOnlyList<WaitingEnd> Snapshot() => _snapshot;

    protected override ValueTask Initial(Command message)
    {
        switch (message)
        {
            case Command.Register register:
                register.Reply.TrySetResult(Register(register.End));
                break;
            case Command.Unregister unregister:
                Remove(unregister.End);
                break;
            case Command.Expire:
                ExpireOld();
                break;
        }
        _snapshot = [.. _waiting.Values.SelectMany(v => v)];
        return ValueTask.CompletedTask;
    }

    private RegisterResult Register(WaitingEnd end)
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
        var source = end.Link.SourceAddress;
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
        var source = end.Link.SourceAddress;
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

    private async Task ExpireLoopAsync()
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, Math.Min(_options.WaitExpiry.Ticks / 10, TimeSpan.FromSeconds(10).Ticks)));
        try
        {
            while (!Stopping.IsCancellationRequested)
            {
                await Task.Delay(period, _options.Time, Stopping).ConfigureAwait(false);
                Tell(new Command.Expire());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "end {End} registered again; the older waiting connection is dropped")]
        public static partial void Replaced(ILogger logger, string end);
    }
}

using System.Threading.Channels;
using Lstp.Actors;

namespace Lstp.Testing;

/// <summary>
/// A test probe that stands in for any actor: what is told to it queues up, and the test expects messages
/// within a time, expects silence, or expects another actor to terminate.
/// </summary>
public sealed class Probe<T>(string name = "probe") : IActorRef<T>
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<T> _received = Channel.CreateUnbounded<T>();
    private readonly TaskCompletionSource<StopReason> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name => name;
    public Task<StopReason> Completion => _completion.Task;

    public bool Tell(T message) => !_completion.Task.IsCompleted && _received.Writer.TryWrite(message);

    public ValueTask TellAsync(T message, CancellationToken cancellationToken = default)
    {
        Tell(message);
        return ValueTask.CompletedTask;
    }

    public void Stop(StopReason? reason = null) => _completion.TrySetResult(reason ?? StopReason.Normal);

    /// <summary>The next message, which must be a <typeparamref name="TExpected"/>, within <paramref name="timeout"/>.</summary>
    public async Task<TExpected> ExpectMsgAsync<TExpected>(TimeSpan? timeout = null) where TExpected : T
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        T message;
        try
        {
            message = await _received.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new ProbeException($"{name}: expected {typeof(TExpected).Name} within {(timeout ?? DefaultTimeout).TotalSeconds:0.###} s, got nothing");
        }
        return message is TExpected expected
            ? expected
            : throw new ProbeException($"{name}: expected {typeof(TExpected).Name}, got {message}");
    }

    /// <summary>Skips messages until one matches; fails if none does within <paramref name="timeout"/>.</summary>
    public async Task<TExpected> FishForMsgAsync<TExpected>(Func<TExpected, bool> match, TimeSpan? timeout = null) where TExpected : T
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            while (true)
            {
                var message = await _received.Reader.ReadAsync(cts.Token);
                if (message is TExpected expected && match(expected)) return expected;
            }
        }
        catch (OperationCanceledException)
        {
            throw new ProbeException($"{name}: no matching {typeof(TExpected).Name} within {(timeout ?? DefaultTimeout).TotalSeconds:0.###} s");
        }
    }

    /// <summary>Asserts that nothing arrives for <paramref name="duration"/>.</summary>
    public async Task ExpectNoMsgAsync(TimeSpan duration)
    {
        using var cts = new CancellationTokenSource(duration);
        try
        {
            var message = await _received.Reader.ReadAsync(cts.Token);
            throw new ProbeException($"{name}: expected no message for {duration.TotalMilliseconds:0} ms, got {message}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Waits for <paramref name="actor"/> to stop and returns why.</summary>
    public static async Task<StopReason> ExpectTerminatedAsync(IActorRef actor, TimeSpan? timeout = null)
    {
        try
        {
            return await actor.Completion.WaitAsync(timeout ?? DefaultTimeout);
        }
        catch (TimeoutException)
        {
            throw new ProbeException($"expected {actor.Name} to terminate within {(timeout ?? DefaultTimeout).TotalSeconds:0.###} s");
        }
    }
}

/// <summary>A probe expectation that was not met.</summary>
public sealed class ProbeException(string message) : Exception(message);

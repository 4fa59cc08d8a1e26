namespace Lstp.Testing;

/// <summary>
/// A relay that breaks the path on purpose: <see cref="Freeze"/> stops forwarding without closing anything
/// (a blackhole: no FIN, no RST), and <see cref="Kill"/> resets every connection and refuses new ones until
/// <see cref="Revive"/>.
/// </summary>
public sealed class ChaosProxy(int targetPort) : LoopbackRelay(targetPort)
{
    private volatile TaskCompletionSource _thaw = Thawed();
    private volatile bool _dead;

    /// <summary>Stop moving bytes, keep every socket open.</summary>
    public void Freeze() => _thaw = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _thaw.TrySetResult();

    /// <summary>Reset every connection and refuse new ones.</summary>
    public void Kill()
    {
        _dead = true;
        ResetAll();
    }

    public void Revive()
    {
        _dead = false;
        Thaw();
    }

    protected override bool Refusing => _dead;

    protected override Task WaitToMoveAsync(CancellationToken cancellationToken) => _thaw.Task.WaitAsync(cancellationToken);

    private static TaskCompletionSource Thawed()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }
}

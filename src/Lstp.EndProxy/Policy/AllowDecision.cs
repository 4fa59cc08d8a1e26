namespace Lstp.EndProxy.Policy;

/// <summary>The allow-list's answer for one destination: allowed or denied, with a reason fit for a log line.</summary>
public sealed record AllowDecision(bool IsAllowed, string Reason)
{
    public static AllowDecision Allow(string reason) => new(true, reason);

    public static AllowDecision Deny(string reason) => new(false, reason);

    public override string ToString() => (IsAllowed ? "allowed: " : "denied: ") + Reason;
}

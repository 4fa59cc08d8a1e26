using Lstp.Middle.Relay;
using Lstp.Protocol;

namespace Lstp.Middle.Pairing;

/// <summary>An end that registered and waits for its peer; the registry completes <see cref="Outcome"/> once.</summary>
public sealed class WaitingEnd(LinkSession link, DateTimeOffset since)
{
    public LinkSession Link => link;
    public DateTimeOffset Since => since;
    public string CommonKey => link.Info!.CommonKey;
    public string UniqueName => $"{link.Info!.EndName}\u0000{link.Info.User}";

    public TaskCompletionSource<WaitOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>How a wait ended: paired with an end, or dropped with a code (replaced, expired).</summary>
public sealed record WaitOutcome(LinkSession? Peer, ErrorCode Code, string Reason)
{
    public static WaitOutcome Paired(LinkSession peer) => new(peer, ErrorCode.None, "paired");
}

/// <summary>What registering produced for the end that registered.</summary>
public abstract record RegisterResult
{
    /// <summary>No peer yet: the end was stored and waits.</summary>
    public sealed record Stored(WaitingEnd Entry) : RegisterResult;

    /// <summary>The peer was waiting: the registry removed it, and this end pairs with it.</summary>
    public sealed record Matched(WaitingEnd Peer) : RegisterResult;

    /// <summary>
    /// The peer waits at another middle of the cluster, and this node has claimed it: hand this end on to
    /// <paramref name="Node"/> over an inter-node link that presents <paramref name="Claim"/>.
    /// </summary>
    public sealed record Forward(Lstp.Transport.HostPort Node, string Claim) : RegisterResult;

    /// <summary>Refused (a limit): the code and reason go to the end in ERROR.</summary>
    public sealed record Refused(ErrorCode Code, string Reason) : RegisterResult;
}

using Lstp.Protocol.Messages;
using Lstp.Transport;

namespace Lstp.EndProxy.Connect;

/// <summary>
/// The middles an end may dial: its seeds (--middle, in the order given) and then the members of their cluster it
/// learned from MIDDLE_MEMBERS, so it can fail over to, or follow a REDIRECT to, a live middle it was not given.
/// A learned list replaces the previous one; the seeds always stay.
/// </summary>
public sealed class KnownMiddles(IReadOnlyList<HostPort> seeds)
{
    private volatile HostPort[] _all = [.. seeds];

    /// <summary>Seeds first, then the learned members that are not seeds.</summary>
    public IReadOnlyList<HostPort> All => _all;

    public int Count => _all.Length;

    public IReadOnlyList<HostPort> Learned => _all[seeds.Count..];

    /// <summary>Takes the members a middle listed; unusable addresses are skipped. True when the list changed.</summary>
    public bool Learn(MiddleMembers members)
    {
        var learned = new List<HostPort>();
        foreach (var text in members.Addresses.Take(MiddleMembers.MaxAddresses))
        {
            if (HostPort.TryParse(text, out var address, out _) && address.Port != 0 && !seeds.Contains(address) && !learned.Contains(address)) learned.Add(address);
        }
        HostPort[] next = [.. seeds, .. learned];
        var before = _all;
        if (before.AsSpan().SequenceEqual(next)) return false;
        _all = next;
        return true;
    }
}

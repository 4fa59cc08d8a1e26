using Lstp.Middle.Pairing;

namespace Lstp.Cluster.Pairing;

/// <summary>Where this node stands with one of its waiting ends.</summary>
internal enum EntryState
{
    /// <summary>Its registration is on its way to the key's entity.</summary>
    Pending,

    /// <summary>Its key's entity holds it: any node may claim it.</summary>
    Stored,

    /// <summary>Waiting here alone (the registry did not answer): only ends at this node can find it until it is offered again.</summary>
    LocalOnly,

    /// <summary>Another node claimed it (its entity told us so) and is linking in to pair with it.</summary>
    Claimed,
}

/// <summary>One end waiting at this node, under its id in the cluster's registry.</summary>
internal sealed class LocalEntry(Guid id, WaitingEnd end, EntryState state, DateTimeOffset now)
{
    public Guid Id => id;
    public WaitingEnd End => end;
    public EntryState State { get; set; } = state;

    /// <summary>When it entered <see cref="State"/> (for the claim timeout and the offline wait).</summary>
    public DateTimeOffset StateSince { get; set; } = now;
}

/// <summary>What admitting an end to the table did.</summary>
internal abstract record Admission
{
    public sealed record Added(LocalEntry Entry) : Admission;
    public sealed record Matched(LocalEntry Peer) : Admission;
    public sealed record Refused(string Source, int Count) : Admission;
}

/// <summary>
/// The ends waiting at this node, by entry id, by pairing key and by end, with the per-source counts. A small
/// lock-guarded map rather than an actor: <see cref="IPairingRegistry.TakeClaimed"/> is synchronous on the
/// link's path, and removing an entry is the one-winner hand-off between a local match, another node's claim,
/// an unregister and an expiry. Nothing under the lock does I/O or waits.
/// </summary>
internal sealed class LocalWaitingTable(int maxPerSource)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, LocalEntry> _byId = [];
    private readonly Dictionary<string, List<LocalEntry>> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<WaitingEnd, LocalEntry> _byEnd = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _perSource = new(StringComparer.Ordinal);
    private volatile WaitingEnd[] _snapshot = [];

    /// <summary>The ends waiting now (for the dashboard), refreshed on every change.</summary>
    public IReadOnlyList<WaitingEnd> Snapshot => _snapshot;

    /// <summary>
    /// Admits <paramref name="end"/> in <paramref name="state"/>. Entries of the same end (same key and unique
    /// name: it reconnected) are removed into <paramref name="replaced"/>. When an entry of its peer is in one of
    /// <paramref name="partnerStates"/>, that entry is removed and returned instead of adding the end.
    /// </summary>
    public Admission Admit(WaitingEnd end, EntryState state, DateTimeOffset now, ReadOnlySpan<EntryState> partnerStates, List<LocalEntry> replaced)
    {
        lock (_gate)
        {
            if (_byKey.TryGetValue(end.CommonKey, out var entries))
            {
                foreach (var same in entries.Where(e => e.End.UniqueName == end.UniqueName).ToList())
                {
                    RemoveLocked(same);
                    replaced.Add(same);
                }
                foreach (var candidate in entries)
                {
                    if (candidate.End.UniqueName != end.UniqueName && partnerStates.Contains(candidate.State))
                    {
                        RemoveLocked(candidate);
                        Publish();
                        return new Admission.Matched(candidate);
                    }
                }
            }
            var source = end.Link.BudgetSource;
            var count = _perSource.GetValueOrDefault(source);
            if (count >= maxPerSource)
            {
                if (replaced.Count > 0) Publish();
                return new Admission.Refused(source, count);
            }
            _perSource[source] = count + 1;
            var entry = new LocalEntry(Guid.NewGuid(), end, state, now);
            _byId[entry.Id] = entry;
            _byEnd[end] = entry;
            if (!_byKey.TryGetValue(end.CommonKey, out entries)) _byKey[end.CommonKey] = entries = [];
            entries.Add(entry);
            Publish();
            return new Admission.Added(entry);
        }
    }

    /// <summary>Removes the entry with this entry id, whatever its state; null when it is gone already.</summary>
    public LocalEntry? Take(Guid id)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var entry)) return null;
            RemoveLocked(entry);
            Publish();
            return entry;
        }
    }

    /// <summary>Removes the entry of this end; null when it is gone already.</summary>
    public LocalEntry? Remove(WaitingEnd end)
    {
        lock (_gate)
        {
            if (!_byEnd.TryGetValue(end, out var entry)) return null;
            RemoveLocked(entry);
            Publish();
            return entry;
        }
    }

    /// <summary>Moves an entry from one state to another; false when it is gone or in another state.</summary>
    public bool TryMove(Guid id, EntryState from, EntryState to, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var entry) || entry.State != from) return false;
            entry.State = to;
            entry.StateSince = now;
            return true;
        }
    }

    /// <summary>Marks an entry claimed by another node, whatever state it was in (a claim can overtake the end's own registration).</summary>
    public bool MarkClaimed(Guid id, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var entry)) return false;
            entry.State = EntryState.Claimed;
            entry.StateSince = now;
            return true;
        }
    }

    /// <summary>Removes and returns every entry that matches <paramref name="predicate"/>.</summary>
    public List<LocalEntry> RemoveWhere(Func<LocalEntry, bool> predicate)
    {
        lock (_gate)
        {
            var removed = _byId.Values.Where(predicate).ToList();
            foreach (var entry in removed) RemoveLocked(entry);
            if (removed.Count > 0) Publish();
            return removed;
        }
    }

    /// <summary>Row ids and states now.</summary>
    public Dictionary<Guid, EntryState> States()
    {
        lock (_gate) return _byId.ToDictionary(p => p.Key, p => p.Value.State);
    }

    /// <summary>The entries in <paramref name="state"/> now.</summary>
    public List<LocalEntry> InState(EntryState state)
    {
        lock (_gate) return [.. _byId.Values.Where(e => e.State == state)];
    }

    public bool Contains(Guid id)
    {
        lock (_gate) return _byId.ContainsKey(id);
    }

    private void RemoveLocked(LocalEntry entry)
    {
        if (!_byId.Remove(entry.Id)) return;
        _byEnd.Remove(entry.End);
        if (_byKey.TryGetValue(entry.End.CommonKey, out var entries))
        {
            entries.Remove(entry);
            if (entries.Count == 0) _byKey.Remove(entry.End.CommonKey);
        }
        var source = entry.End.Link.BudgetSource;
        if (_perSource.TryGetValue(source, out var count))
        {
            if (count <= 1) _perSource.Remove(source);
            else _perSource[source] = count - 1;
        }
    }

    private void Publish() => _snapshot = [.. _byId.Values.Select(e => e.End)];
}

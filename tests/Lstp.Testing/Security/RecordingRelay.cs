namespace Lstp.Testing.Security;

/// <summary>
/// A relay that records every byte it forwards, per connection and per direction: the capture a network
/// attacker (or the middle's operator with tcpdump) would have. A test puts it between an end and its middle,
/// then searches <see cref="Captured"/> or replays <see cref="RecordedLink.FromClient"/>.
/// </summary>
public sealed class RecordingRelay(int targetPort) : LoopbackRelay(targetPort)
{
    private readonly List<RecordedLink> _links = [];

    /// <summary>Every connection relayed so far, in the order they were accepted.</summary>
    public IReadOnlyList<RecordedLink> Links
    {
        get { lock (_links) return [.. _links]; }
    }

    /// <summary>Every byte of every connection, both directions.</summary>
    public IEnumerable<byte[]> Captured => Links.SelectMany(l => new[] { l.FromClient, l.FromServer });

    /// <summary>Total bytes recorded, both directions of every connection.</summary>
    public long TotalBytes => Links.Sum(l => (long)l.FromClient.Length + l.FromServer.Length);

    protected override object? Connected()
    {
        var link = new RecordedLink();
        lock (_links) _links.Add(link);
        return link;
    }

    protected override void Forwarding(object? connection, bool fromClient, ReadOnlySpan<byte> bytes)
    {
        var link = (RecordedLink)connection!;
        lock (link) (fromClient ? link.ClientSide : link.ServerSide).Write(bytes);
    }
}

/// <summary>One relayed connection's bytes: what the client (the end) sent and what the server (the middle) sent.</summary>
public sealed class RecordedLink
{
    internal MemoryStream ClientSide { get; } = new();
    internal MemoryStream ServerSide { get; } = new();

    public byte[] FromClient
    {
        get { lock (this) return ClientSide.ToArray(); }
    }

    public byte[] FromServer
    {
        get { lock (this) return ServerSide.ToArray(); }
    }
}

/// <summary>Searching captures for bytes that must (or must not) be there.</summary>
public static class Capture
{
    /// <summary>True when <paramref name="needle"/> occurs anywhere in any of <paramref name="captures"/>.</summary>
    public static bool Contains(IEnumerable<byte[]> captures, ReadOnlySpan<byte> needle)
    {
        foreach (var capture in captures)
        {
            if (capture.AsSpan().IndexOf(needle) >= 0) return true;
        }
        return false;
    }
}

using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>RELAY: a slice of the end-to-end byte stream; the middle forwards it without reading it. <c>bytes</c></summary>
public sealed record Relay(ReadOnlyMemory<byte> Data) : Message
{
    public override MessageType Type => MessageType.Relay;
    protected override void WritePayload(WireWriter w) => w.Raw(Data.Span);
    public bool Equals(Relay? other) => other is not null && Data.Span.SequenceEqual(other.Data.Span);
    public override int GetHashCode() => Data.Length;
}

/// <summary>WAITING: the middle stored this end's setup and waits for its peer. <c>u32 expiresInSeconds</c></summary>
public sealed record Waiting(uint ExpiresInSeconds) : Message
{
    public override MessageType Type => MessageType.Waiting;
    protected override void WritePayload(WireWriter w) => w.U32(ExpiresInSeconds);
}

/// <summary>REDIRECT: the middle asks the end to move (it drains, or another node holds the peer). <c>str address | str reason</c></summary>
public sealed record Redirect(string Address, string Reason) : Message
{
    public override MessageType Type => MessageType.Redirect;
    protected override void WritePayload(WireWriter w) => w.Str(Address).Str(Reason);
}

/// <summary>
/// MIDDLE_MEMBERS: the link addresses of the live middles of the cluster this middle belongs to, so the end can fail
/// over to any of them, not only to the seeds it was given. <c>u8 count | count × str address</c>
/// </summary>
public sealed record MiddleMembers(IReadOnlyList<string> Addresses) : Message
{
    /// <summary>At most this many travel in one frame (a cluster larger than this sends a sample of it).</summary>
    public const int MaxAddresses = 64;

    public override MessageType Type => MessageType.MiddleMembers;

    protected override void WritePayload(WireWriter w)
    {
        var count = Math.Min(Addresses.Count, MaxAddresses);
        w.U8((byte)count);
        for (var i = 0; i < count; i++) w.Str(Addresses[i]);
    }

    public bool Equals(MiddleMembers? other) => other is not null && Addresses.SequenceEqual(other.Addresses);
    public override int GetHashCode() => Addresses.Count;
}

/// <summary>TUNNEL_REPORT: summary figures an end volunteers for its middle's dashboard. <c>u32 channels | u64 sent | u64 received</c></summary>
public sealed record TunnelReport(uint Channels, ulong BytesSent, ulong BytesReceived) : Message
{
    public override MessageType Type => MessageType.TunnelReport;
    protected override void WritePayload(WireWriter w) => w.U32(Channels).U64(BytesSent).U64(BytesReceived);
}

/// <summary>PUBLISH_REQUEST: expose one of this end's services on a public port of the middle. <c>str service | u16 port | u8 len | owner</c></summary>
public sealed record PublishRequest(string Service, ushort Port, byte[] Owner) : Message
{
    /// <summary>The owner's length: an HMAC-SHA256 of the tunnel secret.</summary>
    public const int OwnerSize = 32;

    public override MessageType Type => MessageType.PublishRequest;
    protected override void WritePayload(WireWriter w) => w.Str(Service).U16(Port).Bytes8(Owner);
    public bool Equals(PublishRequest? other) => other is not null && Service == other.Service && Port == other.Port && Owner.AsSpan().SequenceEqual(other.Owner);
    public override int GetHashCode() => HashCode.Combine(Service, Port);
}

/// <summary>PUBLISH_ACK: the port is open; data links must present the ticket. <c>u16 port | u8 len | ticket</c></summary>
public sealed record PublishAck(ushort Port, byte[] Ticket) : Message
{
    public override MessageType Type => MessageType.PublishAck;
    protected override void WritePayload(WireWriter w) => w.U16(Port).Bytes8(Ticket);
    public bool Equals(PublishAck? other) => other is not null && Port == other.Port && Ticket.AsSpan().SequenceEqual(other.Ticket);
    public override int GetHashCode() => Port;
}

/// <summary>PLAIN_CLIENT: a plain client arrived on a published port. <c>u64 clientId | u16 port | str from</c></summary>
public sealed record PlainClient(ulong ClientId, ushort Port, string From) : Message
{
    public override MessageType Type => MessageType.PlainClient;
    protected override void WritePayload(WireWriter w) => w.U64(ClientId).U16(Port).Str(From);
}

/// <summary>DATA_LINK: first frame of a fresh data connection for one plain client. <c>u64 clientId | u8 len | ticket</c></summary>
public sealed record DataLink(ulong ClientId, byte[] Ticket) : Message
{
    public override MessageType Type => MessageType.DataLink;
    protected override void WritePayload(WireWriter w) => w.U64(ClientId).Bytes8(Ticket);
    public bool Equals(DataLink? other) => other is not null && ClientId == other.ClientId && Ticket.AsSpan().SequenceEqual(other.Ticket);
    public override int GetHashCode() => (int)ClientId;
}

/// <summary>NODE_CLAIM: on a middle-to-middle link, names the waiting end this link's end was paired with in the cluster registry. <c>str claim</c></summary>
public sealed record NodeClaim(string Claim) : Message
{
    public override MessageType Type => MessageType.NodeClaim;
    protected override void WritePayload(WireWriter w) => w.Str(Claim);
}

/// <summary>
/// ORIGIN: on a <c>Node</c> link, the source address of the end this middle hands on, as this middle saw it, so
/// the next middle can apply its per-source limits to the end and not to the handing middle. <c>str source</c>
/// </summary>
public sealed record Origin(string Source) : Message
{
    /// <summary>The longest source a middle accepts (an IPv6 address in brackets fits well within it).</summary>
    public const int MaxLength = 64;

    public override MessageType Type => MessageType.Origin;
    protected override void WritePayload(WireWriter w) => w.Str(Source);
}

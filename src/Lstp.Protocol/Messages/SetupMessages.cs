using Lstp.Protocol.Framing;

namespace Lstp.Protocol.Messages;

/// <summary>Bits of COMMONUNIQUE_INFO's flags byte.</summary>
[Flags]
public enum SetupFlags : byte
{
    None = 0,
    /// <summary>This end asks for no end-to-end encryption; honoured only when both ends ask.</summary>
    Plaintext = 1,
    /// <summary>This end registers to resume a broken tunnel (docs/protocol.md §6.7). Pairing is unchanged; the middle shows it.</summary>
    Resuming = 2,
}

/// <summary>
/// COMMONUNIQUE_INFO: the common part (pairing key + slot) tells the middle which two ends belong together;
/// the unique part names this end.
/// <code>
/// u8 keyLen | key (32) | u32 slot | str endName | str user | instanceId (16) | u8 flags
/// </code>
/// </summary>
public sealed record CommonUniqueInfo(byte[] PairingKey, uint Slot, string EndName, string User, byte[] InstanceId, SetupFlags Flags) : Message
{
    public override MessageType Type => MessageType.CommonUniqueInfo;

    protected override void WritePayload(WireWriter w)
    {
        if (PairingKey.Length != ProtocolLimits.PairingKeySize) throw new ArgumentException($"a pairing key is {ProtocolLimits.PairingKeySize} bytes, not {PairingKey.Length}", nameof(PairingKey));
        w.Bytes8(PairingKey).U32(Slot).Str(EndName).Str(User).Fixed(InstanceId, ProtocolLimits.NodeIdSize).U8((byte)Flags);
    }

    internal static CommonUniqueInfo Read(ref WireReader r)
    {
        var key = r.Bytes8();
        if (key.Length != ProtocolLimits.PairingKeySize) throw new ProtocolException(ErrorCode.Malformed, $"malformed COMMONUNIQUE_INFO: pairing key of {key.Length} bytes, expected {ProtocolLimits.PairingKeySize}");
        return new CommonUniqueInfo(key, r.U32(), r.Str(), r.Str(), r.Fixed(ProtocolLimits.NodeIdSize), (SetupFlags)r.U8());
    }

    /// <summary>The part the middle matches on, as a printable registry key.</summary>
    public string CommonKey => $"{Convert.ToHexString(PairingKey)}/{Slot}";

    public bool Equals(CommonUniqueInfo? other) =>
        other is not null && PairingKey.AsSpan().SequenceEqual(other.PairingKey) && Slot == other.Slot && EndName == other.EndName
        && User == other.User && InstanceId.AsSpan().SequenceEqual(other.InstanceId) && Flags == other.Flags;

    public override int GetHashCode() => HashCode.Combine(CommonKey, EndName, User, Flags);
}

/// <summary>What kind of proxy a topology entry names.</summary>
public enum NodeKind : byte
{
    End = 1,
    Middle = 2,
}

/// <summary>One proxy on the path: its kind, name, address and node id.</summary>
public sealed record TopologyEntry(NodeKind Kind, string Name, string Address, byte[] NodeId)
{
    public bool Equals(TopologyEntry? other) =>
        other is not null && Kind == other.Kind && Name == other.Name && Address == other.Address && NodeId.AsSpan().SequenceEqual(other.NodeId);

    public override int GetHashCode() => HashCode.Combine(Kind, Name, Address);

    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} {Name} ({Address})";
}

/// <summary>
/// TOPOLOGY_EXCHANGE: the path so far. Each middle appends itself before forwarding.
/// <code>
/// u8 count | count × ( u8 kind | str name | str address | nodeId (16) )
/// </code>
/// </summary>
public sealed record TopologyExchange(IReadOnlyList<TopologyEntry> Entries) : Message
{
    public override MessageType Type => MessageType.TopologyExchange;

    public TopologyExchange Append(TopologyEntry entry)
    {
        if (Entries.Count >= ProtocolLimits.MaxTopologyEntries) throw new ProtocolException(ErrorCode.ProtocolViolation, "TOPOLOGY_EXCHANGE path is too long");
        return new TopologyExchange([.. Entries, entry]);
    }

    protected override void WritePayload(WireWriter w)
    {
        if (Entries.Count > ProtocolLimits.MaxTopologyEntries) throw new ArgumentException($"TOPOLOGY_EXCHANGE lists at most {ProtocolLimits.MaxTopologyEntries} entries, not {Entries.Count}", nameof(Entries));
        w.U8((byte)Entries.Count);
        foreach (var e in Entries) w.U8((byte)e.Kind).Str(e.Name).Str(e.Address).Fixed(e.NodeId, ProtocolLimits.NodeIdSize);
    }

    internal static TopologyExchange Read(ref WireReader r)
    {
        int count = r.U8();
        if (count > ProtocolLimits.MaxTopologyEntries) throw new ProtocolException(ErrorCode.Malformed, $"malformed TOPOLOGY_EXCHANGE: {count} entries, at most {ProtocolLimits.MaxTopologyEntries}");
        var entries = new TopologyEntry[count];
        for (var i = 0; i < count; i++)
        {
            var kind = r.U8();
            if (kind is not (1 or 2)) throw new ProtocolException(ErrorCode.Malformed, $"malformed TOPOLOGY_EXCHANGE: node kind {kind}");
            entries[i] = new TopologyEntry((NodeKind)kind, r.Str(), r.Str(), r.Fixed(ProtocolLimits.NodeIdSize));
        }
        return new TopologyExchange(entries);
    }

    public bool Equals(TopologyExchange? other) => other is not null && Entries.SequenceEqual(other.Entries);

    public override int GetHashCode() => Entries.Count;

    /// <summary>The middles on the path, in order.</summary>
    public IEnumerable<TopologyEntry> Middles => Entries.Where(e => e.Kind == NodeKind.Middle);
}

/// <summary>
/// PROPERTY_EXCHANGE: what an end says about itself, as ordered key/value pairs (docs/protocol.md lists the keys).
/// <code>
/// u16 count | count × ( str key | str value )
/// </code>
/// </summary>
public sealed record PropertyExchange(IReadOnlyList<KeyValuePair<string, string>> Properties) : Message
{
    public override MessageType Type => MessageType.PropertyExchange;

    public string? Get(string key) => Properties.FirstOrDefault(p => p.Key == key).Value;

    public IEnumerable<string> GetAll(string key) => Properties.Where(p => p.Key == key).Select(p => p.Value);

    protected override void WritePayload(WireWriter w)
    {
        if (Properties.Count > ushort.MaxValue) throw new ArgumentException("PROPERTY_EXCHANGE holds at most 65535 pairs", nameof(Properties));
        w.U16((ushort)Properties.Count);
        foreach (var (key, value) in Properties) w.Str(key).Str(value);
    }

    internal static PropertyExchange Read(ref WireReader r)
    {
        int count = r.U16();
        var list = new List<KeyValuePair<string, string>>(Math.Min(count, 256));
        for (var i = 0; i < count; i++) list.Add(new(r.Str(), r.Str()));
        return new PropertyExchange(list);
    }

    public bool Equals(PropertyExchange? other) => other is not null && Properties.SequenceEqual(other.Properties);

    public override int GetHashCode() => Properties.Count;
}

/// <summary>ADMISSION: the token an end presents to a middle that requires one. <c>str token</c></summary>
public sealed record Admission(string Token) : Message
{
    public override MessageType Type => MessageType.Admission;
    protected override void WritePayload(WireWriter w) => w.Str(Token);
    internal static Admission Read(ref WireReader r) => new(r.Str());
    public override string ToString() => "ADMISSION (token hidden)";
}

/// <summary>Which step of the end-to-end proof an AUTH_PROOF carries.</summary>
public enum AuthStage : byte
{
    Nonce = 1,
    Mac = 2,
}

/// <summary>AUTH_PROOF: a fresh nonce, then an HMAC that proves the tunnel secret bound to the TLS session. <c>u8 stage | u8 len | bytes</c></summary>
public sealed record AuthProof(AuthStage Stage, byte[] Value) : Message
{
    public override MessageType Type => MessageType.AuthProof;
    protected override void WritePayload(WireWriter w) => w.U8((byte)Stage).Bytes8(Value);
    internal static AuthProof Read(ref WireReader r)
    {
        var stage = r.U8();
        if (stage is not (1 or 2)) throw new ProtocolException(ErrorCode.Malformed, $"malformed AUTH_PROOF: stage {stage}");
        return new AuthProof((AuthStage)stage, r.Bytes8());
    }
    public bool Equals(AuthProof? other) => other is not null && Stage == other.Stage && Value.AsSpan().SequenceEqual(other.Value);
    public override int GetHashCode() => (int)Stage;
}

/// <summary>
/// RESUME: sent by both ends after AUTH_PROOF. It offers to resume the tunnel named <see cref="Tunnel"/> (zeros: no
/// offer) with a <see cref="Proof"/> of that tunnel's resumption secret, says how many bytes of its stream this end
/// received, and carries this end's <see cref="Share"/> of the next tunnel's resumption secret (empty: this end does
/// not resume tunnels). <c>16 tunnel | u8 len | proof | u64 received | u8 len | share</c>
/// </summary>
public sealed record Resume(byte[] Tunnel, byte[] Proof, ulong Received, byte[] Share) : Message
{
    public const int TunnelSize = 16;
    public const int ProofSize = 32;
    public const int ShareSize = 32;

    public override MessageType Type => MessageType.Resume;

    /// <summary>True when the sender offers to resume a tunnel.</summary>
    public bool Offers => Tunnel.AsSpan().IndexOfAnyExcept((byte)0) >= 0;

    protected override void WritePayload(WireWriter w) => w.Fixed(Tunnel, TunnelSize).Bytes8(Proof).U64(Received).Bytes8(Share);

    internal static Resume Read(ref WireReader r)
    {
        var tunnel = r.Fixed(TunnelSize);
        var proof = r.Bytes8();
        var received = r.U64();
        var share = r.Bytes8();
        if (proof.Length is not (0 or ProofSize)) throw new ProtocolException(ErrorCode.Malformed, $"malformed RESUME: a {proof.Length}-byte proof");
        if (share.Length is not (0 or ShareSize)) throw new ProtocolException(ErrorCode.Malformed, $"malformed RESUME: a {share.Length}-byte share");
        return new Resume(tunnel, proof, received, share);
    }

    public bool Equals(Resume? other) => other is not null && Received == other.Received && Tunnel.AsSpan().SequenceEqual(other.Tunnel)
        && Proof.AsSpan().SequenceEqual(other.Proof) && Share.AsSpan().SequenceEqual(other.Share);

    public override int GetHashCode() => Received.GetHashCode();

    public override string ToString() => Offers ? $"RESUME (offer, received {Received})" : "RESUME (no offer)";
}

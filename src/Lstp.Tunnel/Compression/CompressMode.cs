namespace Lstp.Tunnel.Compression;

/// <summary>What an end does with the data it sends on a channel (<c>lstp end --compress auto|on|off</c>).</summary>
public enum CompressMode
{
    /// <summary>Compress, and stop on a channel whose data does not shrink (already compressed or encrypted).</summary>
    Auto,
    /// <summary>Compress every frame that shrinks, never giving up.</summary>
    On,
    /// <summary>Never compress; an <c>off</c> tunnel also tells the peer not to (PROPERTY_EXCHANGE <c>compression=none</c>).</summary>
    Off,
}

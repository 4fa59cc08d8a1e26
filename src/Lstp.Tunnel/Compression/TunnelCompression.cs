using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Compression;

/// <summary>
/// What one tunnel agreed on (the method, or none) and the per-channel choices that follow from it and this
/// end's settings. The opener of a channel decides for both directions only when it says off
/// (<see cref="BeginOptions.NoCompression"/>); otherwise each end compresses what it sends by its own mode.
/// </summary>
public sealed class TunnelCompression
{
    private TunnelCompression(CompressionMethod method, CompressionSettings settings)
    {
        Method = method;
        Settings = settings;
    }

    /// <summary>A tunnel that compresses nothing and accepts no compressed data.</summary>
    public static readonly TunnelCompression None = new(CompressionMethod.None, CompressionSettings.Default with { Mode = CompressMode.Off });

    /// <summary>
    /// Applies <see cref="CompressionNegotiation"/> to what this end announced (<see cref="CompressionSettings.Announce"/>
    /// of <paramref name="mine"/>, which must be what it sent in PROPERTY_EXCHANGE) and what the peer announced.
    /// </summary>
    public static TunnelCompression Agree(CompressionSettings mine, IReadOnlyList<string> peerAnnounced, bool iAmMaster)
    {
        var announced = mine.Announce();
        var method = iAmMaster ? CompressionNegotiation.Agree(announced, peerAnnounced) : CompressionNegotiation.Agree(peerAnnounced, announced);
        return new TunnelCompression(method, mine);
    }

    public CompressionMethod Method { get; }
    public CompressionSettings Settings { get; }
    public bool Enabled => Method != CompressionMethod.None;

    /// <summary>For a channel this end opens to <paramref name="target"/> (a service name, or a SOCKS/CONNECT destination).</summary>
    public ChannelCompression ForOpener(TargetKind kind, string target)
    {
        if (!Enabled) return ChannelCompression.None;
        var mode = Settings.ModeFor(kind == TargetKind.Service ? target : null);
        return new ChannelCompression(Method, mode, mode == CompressMode.Off ? BeginOptions.NoCompression : BeginOptions.None);
    }

    /// <summary>For a channel the peer opened: off when the opener said so, else this end's mode for the service.</summary>
    public ChannelCompression ForAcceptor(ServiceBeginRequest request)
    {
        if (!Enabled) return ChannelCompression.None;
        if (request.Options.HasFlag(BeginOptions.NoCompression)) return new ChannelCompression(Method, CompressMode.Off, BeginOptions.None);
        return new ChannelCompression(Method, Settings.ModeFor(request.Kind == TargetKind.Service ? request.Target : null), BeginOptions.None);
    }

    public override string ToString() => Enabled ? $"{CompressionMethods.Name(Method)} ({Settings})" : "none";
}

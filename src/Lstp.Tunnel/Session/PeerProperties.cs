using Lstp.Protocol;
using Lstp.Protocol.Messages;

namespace Lstp.Tunnel.Session;

/// <summary>The PROPERTY_EXCHANGE keys this version sends and reads (docs/protocol.md §4.3).</summary>
public static class PropertyKeys
{
    public const string Version = "version";
    public const string Software = "software";
    public const string Feature = "feature";
    public const string Service = "service";
    public const string Allow = "allow";
    public const string Helper = "helper";
    public const string Compression = "compression";
}

/// <summary>What an end tells its peer about itself, built into and read from PROPERTY_EXCHANGE.</summary>
public sealed record EndProperties(
    IReadOnlyList<string> Services,
    IReadOnlyList<string> Allow,
    IReadOnlyList<string> Features,
    IReadOnlyList<string> Helpers,
    IReadOnlyList<string> Compression)
{
    public static readonly EndProperties None = new([], [], [], [], []);

    public int Version { get; init; } = ProtocolLimits.Version;

    public PropertyExchange ToMessage()
    {
        var list = new List<KeyValuePair<string, string>>
        {
            new(PropertyKeys.Version, Version.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(PropertyKeys.Software, "lstp/" + typeof(EndProperties).Assembly.GetName().Version),
        };
        list.AddRange(Features.Select(f => new KeyValuePair<string, string>(PropertyKeys.Feature, f)));
        list.AddRange(Services.Select(s => new KeyValuePair<string, string>(PropertyKeys.Service, s)));
        list.AddRange(Allow.Select(a => new KeyValuePair<string, string>(PropertyKeys.Allow, a)));
        list.AddRange(Helpers.Select(h => new KeyValuePair<string, string>(PropertyKeys.Helper, h)));
        list.AddRange(Compression.Select(c => new KeyValuePair<string, string>(PropertyKeys.Compression, c)));
        return new PropertyExchange(list);
    }

    public static EndProperties From(PropertyExchange message)
    {
        var version = int.TryParse(message.Get(PropertyKeys.Version), out var v) ? v : 0;
        return new EndProperties(
            [.. message.GetAll(PropertyKeys.Service)],
            [.. message.GetAll(PropertyKeys.Allow)],
            [.. message.GetAll(PropertyKeys.Feature)],
            [.. message.GetAll(PropertyKeys.Helper)],
            [.. message.GetAll(PropertyKeys.Compression)]) { Version = version };
    }
}

namespace Lstp.Tunnel.Compression;

/// <summary>
/// One end's compression configuration: the tunnel's mode, per-service overrides, and the methods it accepts
/// in preference order. <c>--compress auto|on|off</c> sets the mode, <c>--compress SERVICE=auto|on|off</c> an
/// override (for a forward's target service at a client end, for an offered service at a server end).
/// </summary>
public sealed record CompressionSettings
{
    public static readonly CompressionSettings Default = new();

    public CompressMode Mode { get; init; } = CompressMode.Auto;

    /// <summary>Per-service modes, by service name; a service not named here follows <see cref="Mode"/>.</summary>
    public IReadOnlyDictionary<string, CompressMode> Services { get; init; } = new Dictionary<string, CompressMode>(StringComparer.Ordinal);

    /// <summary>The methods this end accepts, most preferred first.</summary>
    public IReadOnlyList<CompressionMethod> Methods { get; init; } = CompressionMethods.Supported;

    /// <summary>The mode for a channel to <paramref name="service"/>, or the tunnel's mode for SOCKS/CONNECT destinations (null).</summary>
    public CompressMode ModeFor(string? service) => service is not null && Services.TryGetValue(service, out var mode) ? mode : Mode;

    /// <summary>
    /// The <c>compression</c> values this end announces in PROPERTY_EXCHANGE: its methods in preference order, or
    /// <c>none</c> when nothing on this end may be compressed (an <c>off</c> tunnel with no service set otherwise).
    /// </summary>
    public IReadOnlyList<string> Announce()
    {
        var wanted = Mode != CompressMode.Off || Services.Values.Any(m => m != CompressMode.Off);
        return wanted && Methods.Count > 0 ? [.. Methods.Select(CompressionMethods.Name)] : [CompressionMethods.NoneName];
    }

    /// <summary>Parses the values of <c>--compress</c> (repeatable, or comma-separated): at most one mode, and SERVICE=MODE overrides.</summary>
    public static CompressionSettings Parse(IEnumerable<string> values)
    {
        CompressMode? tunnel = null;
        var services = new Dictionary<string, CompressMode>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var text = value.Trim();
            var eq = text.IndexOf('=');
            if (eq < 0)
            {
                var mode = ParseMode(text, value);
                if (tunnel is not null && tunnel != mode) throw new FormatException($"--compress '{value}': the tunnel's mode is already {Name(tunnel.Value)}; give it once (SERVICE=MODE sets one service)");
                tunnel = mode;
                continue;
            }
            var service = text[..eq].Trim();
            if (service.Length == 0) throw new FormatException($"--compress '{value}': expected auto, on, off or SERVICE=auto|on|off");
            var serviceMode = ParseMode(text[(eq + 1)..].Trim(), value);
            if (services.TryGetValue(service, out var earlier) && earlier != serviceMode) throw new FormatException($"--compress '{value}': service '{service}' is already {Name(earlier)}");
            services[service] = serviceMode;
        }
        return new CompressionSettings { Mode = tunnel ?? CompressMode.Auto, Services = services };
    }

    /// <summary>
    /// Refuses an override for a service this end neither offers nor forwards to (<paramref name="known"/>): a typo
    /// in <c>--compress db=off</c> must not leave db compressed.
    /// </summary>
    public void RequireServices(IEnumerable<string> known)
    {
        var names = known.ToHashSet(StringComparer.Ordinal);
        var unknown = Services.Keys.Where(k => !names.Contains(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unknown is not null) throw new FormatException($"--compress '{unknown}={Name(Services[unknown])}': this end has no --service or --forward for '{unknown}'");
    }

    public static string Name(CompressMode mode) => mode switch
    {
        CompressMode.On => "on",
        CompressMode.Off => "off",
        _ => "auto",
    };

    private static CompressMode ParseMode(string text, string value) => text.ToLowerInvariant() switch
    {
        "auto" => CompressMode.Auto,
        "on" => CompressMode.On,
        "off" => CompressMode.Off,
        _ => throw new FormatException($"--compress '{value}': expected auto, on, off or SERVICE=auto|on|off"),
    };

    public override string ToString() =>
        string.Join(", ", Services.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={Name(s.Value)}").Prepend(Name(Mode)));
}

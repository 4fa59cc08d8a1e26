namespace Lstp.Tunnel.Compression;

/// <summary>A compression method the ends may agree on in PROPERTY_EXCHANGE.</summary>
public enum CompressionMethod
{
    None,
    /// <summary>Brotli (RFC 7932), quality 3, 64 KiB window: <c>br</c>.</summary>
    Brotli,
    /// <summary>Raw Deflate (RFC 1951), zlib level 3, 32 KiB window: <c>deflate</c>.</summary>
    Deflate,
}

/// <summary>The names methods have in PROPERTY_EXCHANGE's <c>compression</c> values.</summary>
public static class CompressionMethods
{
    public const string BrotliName = "br";
    public const string DeflateName = "deflate";
    public const string NoneName = "none";

    /// <summary>
    /// What this build supports, in its preference order: Deflate level 3 is a third faster than Brotli quality 3,
    /// compresses flushed small writes better and needs half the memory; Brotli leaves bulk text about 5 % smaller.
    /// </summary>
    public static readonly IReadOnlyList<CompressionMethod> Supported = [CompressionMethod.Deflate, CompressionMethod.Brotli];

    public static string Name(CompressionMethod method) => method switch
    {
        CompressionMethod.Brotli => BrotliName,
        CompressionMethod.Deflate => DeflateName,
        _ => NoneName,
    };

    /// <summary>Parses a method name; false for <c>none</c> and for names this build does not know (a newer peer's).</summary>
    public static bool TryParse(string name, out CompressionMethod method)
    {
        method = name switch
        {
            BrotliName => CompressionMethod.Brotli,
            DeflateName => CompressionMethod.Deflate,
            _ => CompressionMethod.None,
        };
        return method != CompressionMethod.None;
    }
}

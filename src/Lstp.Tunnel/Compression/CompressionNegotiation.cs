namespace Lstp.Tunnel.Compression;

/// <summary>
/// The rule both ends apply to the two PROPERTY_EXCHANGE <c>compression</c> lists, so they reach the same answer
/// without another round trip: none if either end says <c>none</c> or announces nothing; otherwise the first
/// method in the master's list (the end that started TLS, §6.4) that the other end also lists; none if there is
/// no such method. Names this build does not know are skipped.
/// </summary>
public static class CompressionNegotiation
{
    public static CompressionMethod Agree(IReadOnlyList<string> master, IReadOnlyList<string> other)
    {
        if (master.Contains(CompressionMethods.NoneName) || other.Contains(CompressionMethods.NoneName)) return CompressionMethod.None;
        foreach (var name in master)
        {
            if (CompressionMethods.TryParse(name, out var method) && other.Contains(name)) return method;
        }
        return CompressionMethod.None;
    }
}

namespace Lstp.Protocol.Tests.Fuzzing;

/// <summary>The seed inputs in Fuzzing/corpus/*.bin, copied next to the test assembly by the project file.</summary>
public static class Corpus
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fuzzing", "corpus");

    public static IReadOnlyList<(string Name, byte[] Bytes)> Load() =>
        [.. System.IO.Directory.GetFiles(Directory, "*.bin").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];
}

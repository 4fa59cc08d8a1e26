using System.Diagnostics;
using System.Globalization;
using Lstp.Testing.Fuzzing;
using Xunit.Abstractions;

namespace Lstp.Protocol.Tests.Fuzzing;

/// <summary>
/// A time-boxed mutation fuzzer over the readers of untrusted bytes. The seed is fixed and printed, so a
/// failure is reproducible: rerun with <c>LSTP_FUZZ_SEED</c> (and a longer <c>LSTP_FUZZ_SECONDS</c> to reach
/// the same iteration), then add the printed input to Fuzzing/corpus/ as a new .bin file.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20261122;
    private static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(10);

    [Fact]
    public void The_corpus_holds_valid_frames_and_each_kind_of_bad_input()
    {
        var names = Corpus.Load().Select(e => e.Name).ToList();

        Assert.True(names.Count >= 40, $"only {names.Count} corpus entries in {Corpus.Directory}");
        foreach (var kind in (string[])["valid-", "stream-", "oversized-", "truncated-", "bad-magic", "bad-version", "bad-role", "wrong-type", "unknown-type", "bad-utf8", "bad-enum"])
        {
            Assert.Contains(names, n => n.StartsWith(kind, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Every_corpus_entry_raises_nothing_but_ProtocolException()
    {
        foreach (var (name, bytes) in Corpus.Load())
        {
            var ex = Record.Exception(() => FrameHarness.Run(bytes));
            Assert.True(ex is null, $"{name}: {ex}");
        }
    }

    [Fact]
    public void Mutated_corpus_entries_raise_nothing_but_ProtocolException()
    {
        var seed = EnvInt("LSTP_FUZZ_SEED") ?? DefaultSeed;
        var budget = EnvInt("LSTP_FUZZ_SECONDS") is { } s ? TimeSpan.FromSeconds(s) : DefaultBudget;
        var corpus = Corpus.Load().Select(e => e.Bytes).ToList();
        var mutator = new FrameMutator(new Random(seed), corpus);
        output.WriteLine($"fuzzing with seed {seed} for {budget.TotalSeconds:0} s over {corpus.Count} corpus entries (LSTP_FUZZ_SEED, LSTP_FUZZ_SECONDS)");

        var clock = Stopwatch.StartNew();
        long iteration = 0;
        while (clock.Elapsed < budget)
        {
            iteration++;
            var input = mutator.Next(out var what);
            try
            {
                FrameHarness.Run(input);
            }
            catch (Exception ex)
            {
                var saved = Path.Combine(Path.GetTempPath(), $"lstp-fuzz-{seed}-{iteration}.bin");
                File.WriteAllBytes(saved, input);
                Assert.Fail(
                    $"seed {seed}, iteration {iteration} ({what}) threw {ex.GetType().Name}: {ex.Message}\n" +
                    $"input ({input.Length} bytes, saved to {saved}; add it to tests/Lstp.Protocol.Tests/Fuzzing/corpus/):\n" +
                    $"{Bytes.Hex(input)}\n{ex}");
            }
        }
        output.WriteLine($"{iteration} inputs in {clock.Elapsed.TotalSeconds:0.0} s, none raised anything but ProtocolException");
    }

    private static int? EnvInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
}

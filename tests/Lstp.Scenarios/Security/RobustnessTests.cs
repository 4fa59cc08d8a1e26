using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Lstp.Admin;
using Lstp.Middle;
using Lstp.Protocol;
using Lstp.Protocol.Framing;
using Lstp.Protocol.Messages;
using Lstp.Testing;
using Lstp.Testing.Fuzzing;
using Lstp.Testing.Security;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;
using static Lstp.Scenarios.Security.SecurityKit;

namespace Lstp.Scenarios.Security;

/// <summary>Tests that measure the process (memory) or load it hard run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(SecurityRobustness), DisableParallelization = true)]
public sealed class SecurityRobustness;

/// <summary>
/// Garbage and mutated setups against one live middle: it must answer only in LSTP (or close), close every
/// such connection promptly, stay up with bounded memory, forget them all, and still pair a correct tunnel.
/// </summary>
[Collection(nameof(SecurityRobustness))]
public sealed class RobustnessTests(ITestOutputHelper output)
{
    private const int DefaultFuzzSeed = 20260311;
    private static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(10);

    private static MiddleOptions HardenedForTest() => LoopbackMiddle("robust-middle") with
    {
        SetupDeadline = TimeSpan.FromSeconds(1),
        MaxConnectionsPerSecondPerSource = 1_000_000, // so garbage is parsed, not simply rate-limited
    };

    [Fact]
    public async Task Every_seed_of_the_setup_corpus_gets_its_documented_answer()
    {
        var log = new TestLog(output, LogLevel.Warning);
        await using var middle = await MiddleHost.StartAsync(HardenedForTest(), log);
        var files = SetupCorpus.Files();
        Assert.True(files.Count >= 30, $"only {files.Count} seeds in {SetupCorpus.Directory}");
        Assert.Equal(SetupCorpus.Answers.Keys.Order(StringComparer.Ordinal), files.Select(f => f.Name));

        foreach (var (name, bytes) in files)
        {
            var expected = SetupCorpus.Answers[name];
            await using var link = await RawLink.ConnectAsync(middle.LinkAddress);
            await link.SendAsync(bytes);
            // The connection stays open (Kestrel drops what is still unsent when the peer half-closes), until the
            // middle has refused and closed it, or has said WAITING.
            var (answer, closed, _) = await link.ReadAnswerAsync(a => a.Messages.Any(m => m is Waiting) && expected.Code is null, CloseWithin);
            var said = $"{name}: preamble {answer.Preamble}, {string.Join(", ", answer.Messages)}";
            output.WriteLine(said);
            if (expected.Code is not null) Assert.True(closed, $"{said}: the middle did not close the connection");
            Assert.True(expected.Preamble is null || expected.Preamble == answer.Preamble, $"{said} (expected preamble {expected.Preamble})");
            Assert.True(expected.Frames.SequenceEqual(answer.Messages.Select(m => m.GetType())), $"{said} (expected {string.Join(", ", expected.Frames.Select(t => t.Name))})");
            Assert.Equal(expected.Code, answer.ErrorCode);
            Assert.Equal(0, answer.TrailingBytes);
            await link.DisposeAsync();
            await AssertForgetsEverythingAsync(middle, $"{name}: the middle forgets the link");
        }
        AssertNoUnhandledErrors(log);
    }

    [Fact]
    public async Task A_thousand_garbage_connections_leave_the_middle_alive_with_bounded_memory_an_empty_registry_and_a_working_pair()
    {
        var log = new TestLog(null, LogLevel.Warning);
        var middle = await MiddleHost.StartAsync(HardenedForTest(), log); // the rig below owns it
        var random = new Random(1000);
        var connections = Enumerable.Range(0, 1000).Select(i => Garbage.Make(random, i)).ToList();

        // Warm up (JIT, Kestrel's pools), then measure from there.
        await Task.WhenAll(connections.Take(50).Select(c => Garbage.SendAsync(middle, c)));
        var before = LiveBytes();
        var clock = Stopwatch.StartNew();
        var outcomes = new ConcurrentBag<Garbage.Outcome>();
        using (var gate = new SemaphoreSlim(50))
        {
            await Task.WhenAll(connections.Select(async c =>
            {
                await gate.WaitAsync();
                try { outcomes.Add(await Garbage.SendAsync(middle, c)); }
                finally { gate.Release(); }
            }));
        }
        output.WriteLine($"1000 connections in {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var group in outcomes.GroupBy(o => $"{o.Kind} -> {(o.Answer?.ErrorCode?.ToString() ?? (o.Answer is null ? "reset by us" : "closed"))}").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{group.Count(),5} × {group.Key}");
        }

        Assert.Empty(outcomes.Where(o => o.Failure is not null).Select(o => $"{o.Kind} #{o.Index}: {o.Failure}"));
        await AssertForgetsEverythingAsync(middle, "the middle forgets every garbage connection");
        var after = LiveBytes();
        output.WriteLine($"live heap {before / 1024.0 / 1024:0.0} MiB before, {after / 1024.0 / 1024:0.0} MiB after");
        Assert.True(after - before < 50L * 1024 * 1024, $"the heap grew by {(after - before) / 1024.0 / 1024:0.0} MiB");
        AssertNoUnhandledErrors(log);

        // Still alive: a correct pair registers, pairs and carries data.
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Information), new Dictionary<string, string> { ["echo"] = echo.Address }, existingMiddle: middle);
        await rig.OpenAsync();
        await AssertEchoAsync(rig, 9, size: 256 * 1024);
    }

    [Fact]
    public async Task Mutated_setups_sent_as_connections_never_crash_or_hang_the_middle_and_a_correct_pair_works_afterwards()
    {
        var seed = EnvInt("LSTP_FUZZ_SEED") ?? DefaultFuzzSeed;
        var budget = TimeSpan.FromSeconds(EnvInt("LSTP_FUZZ_SECONDS") ?? 10);
        var log = new TestLog(null, LogLevel.Warning);
        var middle = await MiddleHost.StartAsync(HardenedForTest() with { SetupDeadline = TimeSpan.FromMilliseconds(500) }, log); // the rig below owns it
        var random = new Random(seed);
        var seeds = SetupCorpus.Files().Concat(SetupCorpus.Built(random)).Select(s => s.Bytes).ToList();
        var mutator = new FrameMutator(random, seeds);
        output.WriteLine($"fuzzing the middle's setup parser with seed {seed} for {budget.TotalSeconds:0} s over {seeds.Count} seeds (LSTP_FUZZ_SEED, LSTP_FUZZ_SECONDS)");

        var clock = Stopwatch.StartNew();
        var next = 0;
        var codes = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        // Inputs are made in index order from the seed (under a lock) and sent by 32 workers at once, so input N is
        // the same on every run with the same seed, whatever the timing.
        (int Index, byte[] Bytes, string What)? Take()
        {
            lock (mutator)
            {
                if (clock.Elapsed >= budget || !failures.IsEmpty) return null;
                var bytes = mutator.Next(out var what);
                return (next++, bytes, what);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            while (Take() is { } input)
            {
                var failure = await SendMutatedAsync(middle, input.Index, input.Bytes, codes);
                if (failure is null && UnhandledErrors(log) is { Count: > 0 } unhandled)
                {
                    failure = $"the middle logged an unhandled error (the input may be this one or one sent at the same time):\n{string.Join("\n", unhandled)}";
                }
                if (failure is not null)
                {
                    var saved = Path.Combine(Path.GetTempPath(), $"lstp-setup-fuzz-{seed}-{input.Index}.bin");
                    await File.WriteAllBytesAsync(saved, input.Bytes);
                    failures.Enqueue($"seed {seed}, input {input.Index} ({input.What}): {failure}\n" +
                        $"input ({input.Bytes.Length} bytes, saved to {saved}; add it to tests/Lstp.Scenarios/Security/corpus/ with its expected answer):\n{Convert.ToHexString(input.Bytes)}");
                }
            }
        })));
        var sent = next;
        Assert.True(failures.IsEmpty, string.Join("\n\n", failures));
        output.WriteLine($"{sent} mutated setups in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", codes.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value}"))}");

        await AssertForgetsEverythingAsync(middle, "the middle forgets every fuzzed connection");
        await using var echo = new EchoServer();
        await using var rig = await TunnelRig.StartAsync(new TestLog(output, LogLevel.Information), new Dictionary<string, string> { ["echo"] = echo.Address }, existingMiddle: middle);
        await rig.OpenAsync();
        await AssertEchoAsync(rig, 10);
    }

    /// <summary>
    /// Sends one mutated setup. Even inputs stay open until the middle has answered (refused and closed, or let
    /// the sender wait or pair): their answer must be LSTP. Odd inputs end with a FIN at once, which is fast but
    /// makes Kestrel drop the answer. Either way the middle must close or answer within its deadline. Returns
    /// what went wrong, or null.
    /// </summary>
    private static async Task<string?> SendMutatedAsync(MiddleHost middle, int index, byte[] bytes, ConcurrentDictionary<string, int> codes)
    {
        await using var link = await RawLink.ConnectAsync(middle.LinkAddress);
        try { await link.SendAsync(bytes); } catch (SocketException) { } // refused at the first bad bytes
        var keepOpen = index % 2 == 0;
        if (!keepOpen) try { link.Socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { }
        try
        {
            var (answer, closed, _) = keepOpen
                ? await link.ReadSetupAnswerAsync(CloseWithin)
                : await link.ReadAnswerAsync(_ => false, CloseWithin);
            var waited = answer.Messages.Any(m => m is Waiting or TopologyExchange);
            codes.AddOrUpdate(answer.ErrorCode?.ToString() ?? (waited ? "waited or paired" : "closed"), 1, (_, n) => n + 1);
            if (!closed && !(keepOpen && (waited || answer.ErrorCode is not null)))
            {
                return $"the middle neither answered nor closed the connection within {CloseWithin.TotalSeconds:0} s ({(keepOpen ? "kept open" : "after our FIN")})";
            }
            return null;
        }
        catch (ProtocolException ex)
        {
            return $"the middle answered with bytes that are not LSTP: {ex.Message}";
        }
    }

    private static long LiveBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }


    private static int? EnvInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The thousand connections: each kind of garbage, each ending one of three ways.</summary>
    private static class Garbage
    {
        public enum Ending { HalfClose, Reset, KeepOpen }

        public sealed record Connection(int Index, string Kind, byte[] Bytes, Ending Ending);

        public sealed record Outcome(int Index, string Kind, LinkAnswer? Answer, string? Failure);

        private static readonly string[] Kinds =
        [
            "random bytes", "bad magic", "bad version or role", "truncated frame", "oversized length", "preamble then junk",
            "unknown type", "RELAY before pairing", "valid setup then junk", "PING flood", "nothing",
        ];

        public static Connection Make(Random random, int index)
        {
            var kind = index % Kinds.Length;
            byte[] Random(int max) { var b = new byte[random.Next(1, max)]; random.NextBytes(b); return b; }
            var preamble = Preamble.Create(LinkRole.End);
            var setup = RawSetup.Bytes(RawSetup.End("garbage-" + index));
            byte[] bytes = kind switch
            {
                0 => Random(8192),
                1 => random.Next(3) switch
                {
                    0 => "GET / HTTP/1.1\r\nHost: middle\r\n\r\n"u8.ToArray(),
                    1 => [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, .. Random(512)],
                    _ => [(byte)'L', (byte)'S', (byte)'T', (byte)'Q', .. Random(64)],
                },
                2 => [(byte)'L', (byte)'S', (byte)'T', (byte)'P', (byte)random.Next(256), (byte)random.Next(4, 256), 0, 0, .. setup[Preamble.Size..]],
                3 => setup[..random.Next(Preamble.Size + 1, setup.Length - 1)],
                4 => [.. preamble, (byte)(random.Next(2) == 0 ? 0x01 : 0x02), 0xff, (byte)random.Next(256), (byte)random.Next(256), .. Random(256)],
                5 => [.. preamble, .. Random(4096)],
                6 => [.. preamble, (byte)random.Next(0x40, 0x100), 0x00, 0x00, 0x04, 1, 2, 3, 4],
                7 => [.. preamble, .. new Relay(Random(1024)).ToFrame()],
                8 => [.. setup, 0xde, 0xad, .. Random(256)],
                9 => [.. preamble, .. Enumerable.Range(0, 200).SelectMany(i => new Ping((ulong)i).ToFrame())],
                _ => [],
            };
            // Valid setups and PING floods never hit the setup deadline, so they always half-close.
            var ending = kind is 8 or 9 ? Ending.HalfClose : random.Next(20) switch
            {
                0 => Ending.KeepOpen,
                1 or 2 => Ending.Reset,
                _ => Ending.HalfClose,
            };
            return new Connection(index, Kinds[kind], bytes, ending);
        }

        public static async Task<Outcome> SendAsync(MiddleHost middle, Connection c)
        {
            try
            {
                await using var link = await RawLink.ConnectAsync(middle.LinkAddress);
                try
                {
                    if (c.Bytes.Length > 0) await link.SendAsync(c.Bytes);
                }
                catch (SocketException)
                {
                    // The middle refused at the first bad byte and closed while we were still writing.
                }
                switch (c.Ending)
                {
                    case Ending.Reset:
                        link.Socket.LingerState = new LingerOption(true, 0);
                        link.Socket.Close();
                        return new Outcome(c.Index, c.Kind, null, null);
                    case Ending.HalfClose:
                        try { link.Socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { }
                        break;
                }
                var (bytes, closed) = await link.ReadUntilClosedAsync(CloseWithin);
                if (!closed) return new Outcome(c.Index, c.Kind, null, $"not closed by the middle within {CloseWithin.TotalSeconds:0} s ({c.Ending})");
                return new Outcome(c.Index, c.Kind, LinkAnswer.Parse(bytes), null);
            }
            catch (Exception ex)
            {
                return new Outcome(c.Index, c.Kind, null, $"{ex.GetType().Name}: {ex.Message}");
            }
        }
    }
}
